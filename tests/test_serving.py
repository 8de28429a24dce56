"""The app server (granian, WSGI) as `make run` and the Docker image run it: live-update streams
arrive as produced, request bodies (admin uploads, OGC transactions) and HEAD pass through,
the access log goes to stdout, and Ctrl-C / SIGTERM stop the server and scripts/serve.sh's
background processes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests
from django.contrib.gis.geos import Point
from django.test import Client

from geo.db import database_url
from geo.processes import free_port, server_argv, stop_process, wait_http
from importers.models import ImportJob
from layers import services
from tests.conftest import start_server

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, tmp_path_factory):
    """A server with short live-update streams (heartbeat 0.2 s, at most 20 s)."""
    work = tmp_path_factory.mktemp("serving")
    env = {
        "DATABASE_URL": database_url(),
        "IOC_TILE_CACHE_DIR": str(work / "tiles"),
        "IOC_SSE_HEARTBEAT": "0.2",
        "IOC_SSE_LIFETIME": "20",
        "IOC_IMPORT_UPLOAD_DIR": str(work / "imports"),
    }
    url, process = start_server(env, work / "server.log")
    try:
        with django_db_blocker.unblock():
            yield url
    finally:
        stop_process(process)


def test_live_updates_stream_as_produced(server, committed):
    """The first bytes arrive before anything changes; an edit made only after that shows up in
    the same open stream. A server buffering the body until the end could pass neither."""
    with requests.get(f"{server}/api/events", stream=True, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        lines = response.iter_lines(decode_unicode=True)
        assert next(lines).startswith("retry:")
        school = services.do_create_feature(
            "schools",
            {"code": f"SSE-{time.time_ns()}", "name": "Trường sự kiện", "level": "thcs"},
            Point(105.84, 21.59, srid=4326),
            actor="test",
        )
        for line in lines:
            if line.startswith("data:"):
                event = json.loads(line.removeprefix("data:"))
                if event["layer"] == "schools" and event["id"] == school.pk:
                    assert event["op"] == "I"
                    break
        else:
            raise AssertionError("the stream ended without the change")


def test_head_answers_without_a_body(server):
    """HEAD: the GET's headers without its body, wherever the app allows HEAD (tiles from the
    fast path and from Django, static files, pygeoapi's pages); GET-only views say 405."""
    for path, extra in [
        ("/tiles/schools/10/813/449.mvt", {}),
        ("/tiles/schools/10/813/449.mvt", {"Cookie": "x=1"}),
        ("/static/viewer/viewer.css", {}),
    ]:
        got = requests.get(server + path, headers=extra, timeout=60)
        head = requests.head(server + path, headers=extra, timeout=60)
        assert got.status_code == head.status_code == 200, path
        assert head.content == b""
        if "Content-Length" in got.headers:
            assert head.headers["Content-Length"] == got.headers["Content-Length"], path
    # (ogc_services empties a HEAD response itself, so its Content-Length says 0)
    head = requests.head(f"{server}/ogc/collections", timeout=30)
    assert head.status_code == 200 and head.content == b""
    head = requests.head(f"{server}/healthz", timeout=10)
    assert head.status_code == 200 and head.content == b""  # load balancers probe with HEAD


def test_oversized_transaction_bodies_get_a_clear_413(server, committed, users):
    body = json.dumps(
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [105.84, 21.59]},
            "properties": {"code": "BIG", "name": "x", "level": "thcs", "address": "x" * 3_000_000},
        }
    )
    response = requests.post(
        f"{server}/ogc/collections/schools/items",
        data=body,
        headers={"Content-Type": "application/geo+json"},
        auth=("t_editor", "pw-test-123!"),
        timeout=60,
    )
    assert response.status_code == 413
    assert response.json()["description"]


def test_admin_upload_of_a_large_file(server, committed, users, tmp_path):
    """A 12 MB GeoJSON (mostly whitespace) reaches the importer whole, as a dry-run job."""
    client = Client()
    client.force_login(users["editor"])
    session = requests.Session()
    session.cookies.set("sessionid", client.cookies["sessionid"].value)
    page = session.get(f"{server}/admin/importers/", timeout=30)
    assert page.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [105.8442, 21.5928]},
        "properties": {"code": "UPLOAD-BIG", "name": "Trường lớn", "level": "thcs"},
    }
    path = tmp_path / "big.geojson"
    padding = " " * (12 * 1024 * 1024)
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}) + padding)
    try:
        with path.open("rb") as fh:
            response = session.post(
                f"{server}/admin/importers/",
                data={
                    "csrfmiddlewaretoken": token,
                    "layer": "schools",
                    "mode": "append",
                    "encoding": "auto",
                    "srs": "auto",
                    "dry_run": "on",
                },
                files={"file": ("big.geojson", fh, "application/geo+json")},
                headers={"Referer": f"{server}/admin/importers/"},
                allow_redirects=False,
                timeout=120,
            )
        assert response.status_code == 302, response.text[-2000:]
        job = ImportJob.objects.filter(created_by=users["editor"]).latest("pk")
        assert Path(job.upload).stat().st_size == path.stat().st_size
    finally:
        for job in ImportJob.objects.filter(created_by=users["editor"]):
            deadline = time.monotonic() + 60
            while not ImportJob.objects.get(pk=job.pk).finished and time.monotonic() < deadline:
                time.sleep(0.2)
            job.delete()


def test_access_log_on_stdout_and_sigterm_stops(tmp_path):
    port = free_port()
    out, err = (tmp_path / "stdout.log").open("w"), (tmp_path / "stderr.log").open("w")
    process = subprocess.Popen(
        server_argv("geo.wsgi:application", "127.0.0.1", port, access_log=True),
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url()},
        stdout=out,
        stderr=err,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", process, tmp_path / "stderr.log")
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
        time.sleep(0.5)
        assert '"GET /healthz HTTP/1.1" 200' in (tmp_path / "stdout.log").read_text()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        stop_process(process)
        out.close()
        err.close()


def _group_alive(pgid: int) -> list[str]:
    found = subprocess.run(
        ["ps", "-o", "pid=,args=", "-s", str(pgid)], capture_output=True, text=True
    ).stdout
    return [line for line in found.splitlines() if line.strip()]


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_serve_sh_stops_with_its_background_processes(how, tmp_path, django_db_setup):
    """scripts/serve.sh (make run): Ctrl-C (SIGINT to the terminal's process group) or SIGTERM
    to the server stops granian, and the watchdog then stops the Procfile's listener."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "IOC_TILE_CACHE_DIR": str(tmp_path / "tiles"),
        "IOC_PORT": str(port),
        "IOC_WORKERS": "1",
        "IOC_THREADS": "2",
    }
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            ["bash", "scripts/serve.sh"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal gives it
        )
    pgid = process.pid
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", process, log)
        # Wait for the listener's own first line, not just its process: on a slow machine the
        # `bash -c exec …` wrapper shows up in ps a few seconds before Django has started.
        deadline = time.monotonic() + 60
        while "[listener]" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        assert any("listen_changes" in p for p in _group_alive(pgid))
        if how == "ctrl-c":
            os.killpg(pgid, signal.SIGINT)
        else:
            os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        deadline = time.monotonic() + 20
        while _group_alive(pgid):
            assert time.monotonic() < deadline, _group_alive(pgid)
            time.sleep(0.2)
    finally:
        if _group_alive(pgid):
            os.killpg(pgid, signal.SIGKILL)
