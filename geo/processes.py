"""Start and stop our own server processes (benchmarks, tests) the way `make run` serves.

Only loopback addresses are used; every wait is bounded.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from django.conf import settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, process: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    """Wait until ``url`` answers (any HTTP status counts); fail with the log's tail."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=5).read()  # noqa: S310 (loopback URL we built)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                stop_process(process)
                tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
                raise RuntimeError(f"{url} did not come up; {log}:\n{tail}") from None
            time.sleep(0.3)


def start_process(
    argv: Sequence[str],
    env: Mapping[str, str],
    log: Path,
    *,
    probe: str | None = None,
    cwd: Path | None = None,
    timeout: float = 90,
) -> subprocess.Popen:
    """Start ``argv`` with ``env`` added to ours, output to ``log``; wait for ``probe`` if given."""
    with log.open("w") as out:  # the child keeps its own descriptor
        process = subprocess.Popen(
            list(argv),
            cwd=cwd or settings.BASE_DIR,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    if probe:
        wait_http(probe, process, log, timeout=timeout)
    return process


def server_argv(
    app: str,
    host: str,
    port: int,
    *,
    workers: int = 2,
    threads: int = 4,
    access_log: bool = True,
) -> list[str]:
    """granian (WSGI interface) serving ``app`` as scripts/serve.sh runs ours.

    ``threads`` blocking threads run the WSGI app in each worker (see scripts/serve.sh, which
    must stay in step with this list). No ``--backpressure``: with it, a request that found its
    worker's permits taken waited ~30 s after one was freed (map loads stalled 30 s).
    """
    argv = [
        str(Path(sys.executable).parent / "granian"),
        "--interface", "wsgi",
        "--host", host,
        "--port", str(port),
        "--workers", str(workers),
        "--blocking-threads", str(threads),
        "--blocking-threads-idle-timeout", "600",
        "--no-ws",
        "--workers-kill-timeout", "10",
        "--log-level", "warning",
    ]  # fmt: skip
    if access_log:
        argv.append("--access-log")
    return [*argv, app]


def start_server(
    env: Mapping[str, str],
    log: Path,
    *,
    app: str = "geo.wsgi:application",
    probe: str = "/healthz",
    workers: int = 2,
    threads: int = 4,
    access_log: bool = False,
) -> tuple[str, subprocess.Popen]:
    """A WSGI app under granian (as scripts/serve.sh runs ours) on a free loopback port."""
    port = free_port()
    argv = server_argv(
        app, "127.0.0.1", port, workers=workers, threads=threads, access_log=access_log
    )
    url = f"http://127.0.0.1:{port}"
    return url, start_process(argv, env, log, probe=f"{url}{probe}")


def hello_application(environ, start_response):
    """The least a WSGI app can do (the "server floor" of the benchmarks)."""
    body = b"Hello world!"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def stop_process(process: subprocess.Popen | None, timeout: float = 30) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
