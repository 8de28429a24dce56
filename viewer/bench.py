"""Benchmark of the map viewer: navigation → first map ``idle`` with the default layers, and
bytes transferred for that first view, in headless Chromium against gunicorn on localhost.

Each run is a fresh browser context (empty HTTP cache); the server's tile cache is warm after
the first run, so run 1 shows a cold tile cache and the median the usual case.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from django.conf import settings

SCRIPT = Path(settings.BASE_DIR) / "tests" / "browser" / "bench.mjs"
GOAL_MS = 3000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve() -> tuple[str, subprocess.Popen]:
    port = _free_port()
    log = tempfile.NamedTemporaryFile(prefix="viewer-bench-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "geo.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--worker-class",
            "gthread",
        ],
        cwd=settings.BASE_DIR,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=dict(os.environ),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=5).read()  # noqa: S310 (http://127.0.0.1)
            return url, process
        except urllib.error.HTTPError:
            return url, process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"gunicorn did not start; see {log.name}") from None
            time.sleep(0.3)


def run(options) -> str:
    from django.core.management import call_command

    call_command("viewer_glyphs", verbosity=0)
    runs = 2 if options.get("quick") else 5
    url, server = _serve()
    try:
        out = subprocess.run(
            ["node", str(SCRIPT), json.dumps({"url": url, "runs": runs})],
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        ).stdout
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    result = json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[7:])
    rows = result["runs"]
    idle = [r["idle_ms"] for r in rows]
    median = statistics.median(idle)
    lines = [
        "Map viewer (`/`): navigation → first `idle` with the default layers, headless Chromium "
        "(SwiftShader WebGL) on localhost, fresh browser context per run.",
        "",
        "| run | first idle (ms) | bytes transferred | requests |",
        "|---|---:|---:|---:|",
    ]
    for i, r in enumerate(rows, 1):
        lines.append(f"| {i} | {r['idle_ms']} | {r['bytes']:,} | {r['requests']} |")
    lines += [
        "",
        f"Median first idle: **{median:.0f} ms** (goal < {GOAL_MS} ms: "
        f"{'met' if median < GOAL_MS else 'not met'}); ratio to goal {median / GOAL_MS:.2f}.",
    ]
    return "\n".join(lines) + "\n"
