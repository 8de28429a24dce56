"""deploy/nginx.conf in front of a real server: anonymous requests for public tiles are answered
from the cache volume, everything else (signed-in callers, conditional requests, misses,
non-public layers) reaches the app. nginx runs the very file compose mounts, pointed at a
private port, cache and app (the same rewrite the tiles benchmark uses)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import morecantile
import pytest
import requests
from django.test import Client

from geo.db import database_url
from geo.processes import stop_process
from tests.conftest import start_server, wait_for_cached
from tiles.bench import Servers, front_block

TMS = morecantile.tms.get("WebMercatorQuad")
LON, LAT = 105.84, 21.59

pytestmark = pytest.mark.skipif(
    not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()) and not os.environ.get("CI"),
    reason="nginx is not installed (scripts/bootstrap.sh test installs it)",
)


@pytest.fixture
def front(committed):
    # nginx workers run as another user: pytest's tmp_path (under a 0700 dir) is out of reach
    tmp_path = Path(tempfile.mkdtemp(prefix="ioc-nginx-test-"))
    tmp_path.chmod(0o755)
    servers = Servers(tmp_path)
    servers.cache_dir.mkdir(parents=True)
    env = {"DATABASE_URL": database_url(), "IOC_TILE_CACHE_DIR": str(servers.cache_dir)}
    app, process = start_server(env, tmp_path / "server.log")
    try:
        url = servers.start_nginx("front", front_block(servers.cache_root, app, tmp_path))
        yield url, servers.cache_dir
    finally:
        servers.stop_all()
        stop_process(process)
        shutil.rmtree(tmp_path, ignore_errors=True)


def test_anonymous_public_tiles_come_from_the_cache(front, users):
    url, cache = front
    t = TMS.tile(LON, LAT, 13)
    tile = f"{url}/tiles/schools/13/{t.x}/{t.y}.mvt"
    miss = requests.get(tile, timeout=30)
    assert miss.status_code == 200 and miss.headers["X-Tile-Cache"] == "miss"  # from the app
    wait_for_cached(cache, f"/tiles/schools/13/{t.x}/{t.y}.mvt")  # once the response was out
    hit = requests.get(tile, timeout=30)
    assert hit.status_code == 200 and hit.content == miss.content
    assert "ETag" not in hit.headers  # nginx's own: the file was not passed through the app
    assert hit.headers["Cache-Control"] == "public, no-cache"
    assert hit.headers["Content-Type"] == "application/vnd.mapbox-vector-tile"
    assert hit.headers["Access-Control-Allow-Origin"] == "*"
    # A client holding the app's ETag revalidates with the app: 304.
    again = requests.get(tile, headers={"If-None-Match": miss.headers["ETag"]}, timeout=30)
    assert again.status_code == 304  # (nginx's gzip turns the app's ETag weak: W/"…")
    assert again.headers["ETag"].removeprefix("W/") == miss.headers["ETag"].removeprefix("W/")
    # Signed-in callers always reach the app (it picks their audience).
    signed_in = requests.get(tile, auth=("t_operator", "pw-test-123!"), timeout=30)
    assert signed_in.status_code == 200 and "ETag" in signed_in.headers
    with_cookie = requests.get(tile, cookies={"sessionid": "x"}, timeout=30)
    assert with_cookie.status_code == 200 and "ETag" in with_cookie.headers


def test_non_public_layers_never_come_from_the_cache(front, users):
    url, cache = front
    t = TMS.tile(LON, LAT, 12)
    path = f"/tiles/cameras/12/{t.x}/{t.y}.mvt"
    session = Client()
    session.force_login(users["operator"])  # a committed session the server can read
    cookies = {"sessionid": session.cookies["sessionid"].value}
    operator = requests.get(url + path, cookies=cookies, timeout=30)
    assert operator.status_code == 200
    # The operator's tile is cached, but never under "public"…
    assert not (cache / "cameras" / "public").exists()
    assert any((cache / "cameras").iterdir())
    # …so an anonymous request reaches the app, which says the layer does not exist.
    assert requests.get(url + path, timeout=30).status_code == 404
    # Traversal attempts never reach the cache directory listing.
    assert requests.get(f"{url}/tiles/../tiles/cameras/12/0/0.mvt", timeout=30).status_code in (
        400,
        404,
    )
