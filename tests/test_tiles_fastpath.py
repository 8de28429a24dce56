"""tiles/fastpath.py (a geo/fastpath.py handler): anonymous hits of public tiles before Django.

Against a real server (granian on the test database, geo.wsgi as `make run` serves it): the fast
path's responses equal Django's for the same tile (a request carrying any Cookie header always
goes to Django, by the same rules, so it is the reference), non-public layers and credentials
never take it, bad addresses fall through to Django's errors, and an edit's invalidation is
seen at once. A few in-process checks pin which requests the fast path takes.
"""

from __future__ import annotations

import http.client
import threading
import time
from urllib.parse import urlsplit

import morecantile
import pytest
import requests
from django.contrib.gis.geos import Point
from django.test import Client
from django.urls import resolve

from geo.db import database_url
from geo.fastpath import FastPaths
from geo.processes import stop_process
from layers import services
from layers.models import FeatureHistory
from layers.registry import Access, registry
from tests.conftest import FastPathProbe, cached_tile_file, start_server, wait_for_cached
from tiles import fastpath
from tiles.cache import FileTileCache
from tiles.listener import ChangeListener
from tiles.service import canonical_key

TMS = morecantile.tms.get("WebMercatorQuad")
LON, LAT = 105.84, 21.59  # Thái Nguyên city
DJANGO = {"Cookie": "ioc_probe=1"}  # any cookie: the request goes to Django
NOT_COMPARED = {"date", "server"}  # granian's own


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, tmp_path_factory):
    """(url, cache directory) of a real server with a tile cache this module can see."""
    work = tmp_path_factory.mktemp("fastpath")
    cache = work / "tiles"
    env = {"DATABASE_URL": database_url(), "IOC_TILE_CACHE_DIR": str(cache)}
    url, process = start_server(env, work / "server.log")
    try:
        with django_db_blocker.unblock():
            yield url, cache
    finally:
        stop_process(process)


def tile_path(layer: str, z: int, lon: float = LON, lat: float = LAT) -> str:
    t = TMS.tile(lon, lat, z)
    return f"/tiles/{layer}/{z}/{t.x}/{t.y}.mvt"


def headers(response) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items() if k.lower() not in NOT_COMPARED}


def same(a, b) -> None:
    assert a.status_code == b.status_code
    assert a.content == b.content
    assert headers(a) == headers(b)


def raw_get(url: str, path: str) -> tuple[int, bytes]:
    """GET with the path sent exactly as written (no client-side normalisation)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# --- in-process: which requests take the fast path ----------------------------------------
def test_the_wsgi_entry_point_is_wrapped():
    import geo.wsgi
    from ogc_services import fastpath as ogc_fastpath

    assert isinstance(geo.wsgi.application, FastPaths)
    assert geo.wsgi.application.handlers == (fastpath.answer, ogc_fastpath.answer)


@pytest.mark.parametrize(
    "path",
    [
        "/tiles/schools/13/6523/3600.mvt",
        "/tiles/schools,communes/0/0/0.mvt",
        "/tiles/{schools,communes}/1/1/1.mvt",
        "/tiles/schools/1/2/3.json.mvt",
        "/tiles/combined/1/1/1.mvt",
        "/tiles/raster/1/1/1.mvt",
        "/tiles/schools/1/1/1.png",
        "/tiles/schools/1/1.mvt",
        "/tiles/schools/1/1/1/1.mvt",
        "/tiles/schools.json",
    ],
)
def test_route_agrees_with_django(path):
    """The fast path's pattern takes a path only if Django routes it to vector_tile, or to a
    route whose first segment can never be a layer id."""
    match = fastpath.TILE_PATH.match(path)
    try:
        django_route = resolve(path).url_name
    except Exception:  # noqa: BLE001  (Resolver404: no route at all)
        django_route = None
    if django_route == "tiles-mvt":
        assert match is not None
    elif match is not None:
        assert match.group(1) in ("combined", "raster") and match.group(1) not in registry


def test_decisions_in_process(settings, tmp_path):
    """What goes to Django. No database access is allowed here (no db fixture): the fast path
    needs none."""
    settings.TILE_CACHE_DIR = tmp_path
    settings.TILE_CACHE_BACKEND = "file"
    cache = FileTileCache(tmp_path)
    t = TMS.tile(LON, LAT, 12)
    for key in ("schools", "cameras", "traffic_nodes"):
        for audience in ("public", "basic", "full"):
            cache.store(key, audience, 12, t.x, t.y, b"tile " + key.encode())
    call = FastPathProbe(fastpath.answer)
    passed = call.passed

    good = f"/tiles/schools/12/{t.x}/{t.y}.mvt"
    status, hdrs, body = call(good)
    assert (status, body, passed) == ("200 OK", b"tile schools", [])
    assert hdrs["X-Tile-Cache"] == "hit" and hdrs["Cache-Control"] == "public, no-cache"
    status, hdrs, body = call(good, "HEAD")
    assert (status, body, hdrs["Content-Length"]) == ("200 OK", b"", "12")
    status, _, _ = call(good, HTTP_IF_NONE_MATCH=hdrs["ETag"])
    assert status == "304 Not Modified" and passed == []
    for path, extra in [
        (good, {"HTTP_COOKIE": "sessionid=x"}),
        (good, {"HTTP_AUTHORIZATION": "Bearer x"}),
        (good, {"HTTP_HOST": "evil.example"}),
        (good, {"REQUEST_METHOD": "POST"}),
        (f"/tiles/cameras/12/{t.x}/{t.y}.mvt", {}),  # restricted
        (f"/tiles/traffic_nodes/12/{t.x}/{t.y}.mvt", {}),  # internal
        (f"/tiles/schools,cameras/12/{t.x}/{t.y}.mvt", {}),
        ("/tiles/schools/99/0/0.mvt", {}),  # off the grid
        ("/tiles/..%2Fschools/12/0/0.mvt", {}),
        ("/tiles/.schools/12/0/0.mvt", {}),
        ("/tiles/schools/12/0x1/0.mvt", {}),
        ("/ogc/collections", {}),
    ]:
        passed.clear()
        environ_extra = dict(extra)
        method = environ_extra.pop("REQUEST_METHOD", "GET")
        assert call(path, method, **environ_extra)[2] == b"django", (path, extra)
        assert passed == [path]


def test_misses_are_rendered_in_process(committed, settings, tmp_path):
    """A miss of a public tile is rendered and cached by the fast path (service.render_tile),
    not handed to Django."""
    settings.TILE_CACHE_DIR = tmp_path
    settings.TILE_CACHE_BACKEND = "file"
    call = FastPathProbe(fastpath.answer)
    t = TMS.tile(LON, LAT, 13)
    path = f"/tiles/schools/13/{t.x}/{t.y}.mvt"
    _, miss, body = call(path)
    assert call.passed == [] and body and miss["X-Tile-Cache"] == "miss"
    assert FileTileCache(tmp_path).load("schools", "public", 13, t.x, t.y) == body
    _, hit, _ = call(path)
    assert hit["X-Tile-Cache"] == "hit" and hit["ETag"] == miss["ETag"]
    # a layer that is not public still goes to Django, hit or miss
    assert call(f"/tiles/cameras/13/{t.x}/{t.y}.mvt")[2] == b"django"


def test_remembered_paths_follow_the_registry(committed, settings, tmp_path, monkeypatch):
    """A tile path's meaning is remembered while the registry holds the same declarations: a
    layer made internal goes to Django at once, even for a path answered before."""
    import dataclasses

    settings.TILE_CACHE_DIR = tmp_path
    settings.TILE_CACHE_BACKEND = "file"
    call = FastPathProbe(fastpath.answer)
    t = TMS.tile(LON, LAT, 13)
    path = f"/tiles/schools/13/{t.x}/{t.y}.mvt"
    for _ in range(2):  # a miss, then a hit through the remembered path
        assert call(path)[0] == "200 OK" and call.passed == []
    internal = dataclasses.replace(registry.get("schools"), access=Access.INTERNAL)
    monkeypatch.setitem(registry._layers, "schools", internal)
    assert call(path)[2] == b"django" and call.passed == [path]


def test_a_miss_is_cached_once_the_server_closes_the_response(committed, settings, tmp_path):
    """The cache write of a miss waits until the WSGI server closes the response (after the
    body is handed over), so the client does not wait for the disk."""
    from geo.fastpath import FastPaths

    settings.TILE_CACHE_DIR = tmp_path
    settings.TILE_CACHE_BACKEND = "file"
    app = FastPaths(lambda environ, start_response: [b"django"], (fastpath.answer,))
    t = TMS.tile(LON, LAT, 13)
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": f"/tiles/schools/13/{t.x}/{t.y}.mvt",
        "HTTP_HOST": "127.0.0.1:8000",
        "wsgi.url_scheme": "http",
    }
    response = app(environ, lambda status, headers, *exc: None)
    body = b"".join(response)
    assert body and FileTileCache(tmp_path).load("schools", "public", 13, t.x, t.y) is None
    response.close()
    assert FileTileCache(tmp_path).load("schools", "public", 13, t.x, t.y) == body


# --- against the real server -----------------------------------------------------------------
def test_fast_path_equals_django(server):
    url, cache = server
    session = requests.Session()
    path = tile_path("schools", 13)
    first = session.get(url + path, timeout=60)
    assert first.status_code == 200 and first.headers["X-Tile-Cache"] == "miss"
    wait_for_cached(cache, path)  # written once the response was out
    for language in (None, "en", "vi", "en-US,en;q=0.9", "fr", "*"):
        extra = {"Accept-Language": language} if language else {}
        fast = session.get(url + path, headers=extra, timeout=30)
        django = session.get(url + path, headers={**extra, **DJANGO}, timeout=30)
        same(fast, django)
        assert fast.content == first.content and fast.headers["ETag"] == first.headers["ETag"]
        assert fast.headers["X-Tile-Cache"] == "hit"
        assert fast.headers["Content-Type"] == "application/vnd.mapbox-vector-tile"
        assert fast.headers["Access-Control-Allow-Origin"] == "*"
        assert fast.headers["X-Content-Type-Options"] == "nosniff"
        assert fast.headers["Cache-Control"] == "public, no-cache"
    # HEAD: same headers, no body
    fast, django = session.head(url + path, timeout=30), session.head(url + path, headers=DJANGO)
    same(fast, django)
    assert fast.content == b"" and fast.headers["Content-Length"] == str(len(first.content))
    # 304 on If-None-Match (also weak, and in a list)
    for tag in (first.headers["ETag"], f'"x", W/{first.headers["ETag"]}', "*"):
        fast = session.get(url + path, headers={"If-None-Match": tag}, timeout=30)
        django = session.get(url + path, headers={"If-None-Match": tag, **DJANGO}, timeout=30)
        assert fast.status_code == 304
        same(fast, django)
    stale = session.get(url + path, headers={"If-None-Match": '"stale"'}, timeout=30)
    assert stale.status_code == 200 and stale.content == first.content


def test_misses_equal_djangos(server):
    """A miss rendered by the fast path and the same miss rendered by Django: same bytes,
    same headers (X-Tile-Cache: miss on both)."""
    url, cache_dir = server
    session = requests.Session()
    for layer, z in (("schools", 14), ("communes,schools", 10), ("field_reports", 11)):
        path = tile_path(layer, z)
        fast = session.get(url + path, timeout=60)
        key = canonical_key([registry.get(i) for i in layer.split(",")])
        cached = cached_tile_file(cache_dir, path, key=key)
        wait_for_cached(cache_dir, path, key=key)
        assert fast.headers["X-Tile-Cache"] == "miss" and cached.read_bytes() == fast.content
        cached.unlink()
        django = session.get(url + path, headers=DJANGO, timeout=60)
        same(fast, django)


def test_layers_with_private_fields_vary_on_cookie_as_django_says(server):
    """Field reports are public with restricted fields: Django reads the session to pick the
    audience (Vary: Cookie); the fast path answers the same."""
    url, cache = server
    session = requests.Session()
    path = tile_path("field_reports", 10)
    session.get(url + path, timeout=60)
    wait_for_cached(cache, path)
    fast = session.get(url + path, timeout=30)
    same(fast, session.get(url + path, headers=DJANGO, timeout=30))
    assert "Cookie" in fast.headers["Vary"] and fast.headers["X-Tile-Cache"] == "hit"


def test_combined_public_keys_take_the_cache(server):
    url, cache = server
    session = requests.Session()
    path = tile_path("communes,schools", 11)
    session.get(url + path, timeout=60)
    wait_for_cached(
        cache, path, key=canonical_key([registry.get("communes"), registry.get("schools")])
    )
    fast = session.get(url + tile_path("schools,communes", 11), timeout=30)
    assert fast.headers["X-Tile-Cache"] == "hit"
    same(fast, session.get(url + path, headers=DJANGO, timeout=30))


def test_non_public_layers_never_come_from_the_fast_path(server):
    """Files planted in the cache where an anonymous caller might be served them are not."""
    url, cache_dir = server
    cache = FileTileCache(cache_dir)
    t = TMS.tile(LON, LAT, 12)
    not_public = [la.id for la in registry.feature_layers() if la.access != Access.PUBLIC]
    assert {"cameras", "traffic_nodes"} <= set(not_public)
    for layer_id in not_public:
        for key in (layer_id, f"schools,{layer_id}"):
            for audience in ("public", "basic", "full"):
                cache.store(key, audience, 12, t.x, t.y, b"planted")
        response = requests.get(f"{url}/tiles/{layer_id}/12/{t.x}/{t.y}.mvt", timeout=30)
        assert response.status_code == 404 and b"planted" not in response.content
        response = requests.get(f"{url}/tiles/schools,{layer_id}/12/{t.x}/{t.y}.mvt", timeout=30)
        assert response.status_code == 404 and b"planted" not in response.content


def test_credentials_go_to_django(server, committed, users):
    """A signed-in operator gets field reports with their private fields (audience ``full``),
    never the public tile the fast path holds for the same address."""
    url, cache_dir = server
    path = tile_path("field_reports", 12)
    t = TMS.tile(LON, LAT, 12)
    FileTileCache(cache_dir).store("field_reports", "public", 12, t.x, t.y, b"public tile")
    assert requests.get(url + path, timeout=30).content == b"public tile"
    client = Client()
    client.force_login(users["operator"])  # a committed session the server can read
    cookies = {"sessionid": client.cookies["sessionid"].value}
    signed_in = requests.get(url + path, cookies=cookies, timeout=60)
    assert signed_in.status_code == 200 and signed_in.content != b"public tile"
    assert signed_in.headers["Cache-Control"] == "private, no-cache"
    wait_for_cached(cache_dir, path, audience="full")
    # Authorization and any cookie: Django answers (anonymous there: the public tile, by the
    # same rules, so the answers agree)
    for extra in ({"Authorization": "Bearer ioc_x_y"}, DJANGO):
        response = requests.get(url + path, headers=extra, timeout=30)
        assert response.status_code == 200 and response.content == b"public tile"


@pytest.mark.parametrize(
    "path",
    [
        "/tiles/../tiles/schools/1/1/1.mvt",
        "/tiles/..%2F..%2Fetc/1/1/1.mvt",
        "/tiles/%2e%2e/1/1/1.mvt",
        "/tiles/.epochs/1/1/1.mvt",
        "/tiles/schools/1/1/..%2F1.mvt",
        "/tiles/schools/1/%2e%2e/1.mvt",
        "/tiles/schools/1/1/1%00.mvt",
        "/tiles/schools/-1/0/0.mvt",
        "/tiles/schools/99/0/0.mvt",
    ],
)
def test_bad_addresses_reach_djangos_errors(server, path):
    url, cache_dir = server
    (cache_dir / ".epochs").mkdir(parents=True, exist_ok=True)
    status, body = raw_get(url, path)
    assert status in (400, 404), (path, status)
    assert b"planted" not in body


def test_an_edit_is_never_served_stale(server, committed, settings):
    """An edit's invalidation (listen_changes, as in production) reaches the fast path: the next
    request after the listener applied it is rendered anew, never the old cached tile."""
    url, cache_dir = server
    settings.TILE_CACHE_DIR = cache_dir
    settings.TILE_CACHE_BACKEND = "file"
    listener = ChangeListener(cache=FileTileCache(cache_dir))
    stop = threading.Event()
    thread = threading.Thread(target=listener.run, args=(stop,), daemon=True)
    thread.start()
    assert listener.ready.wait(10)
    try:
        lon, lat = 105.8312, 21.5811
        path = tile_path("schools", 15, lon, lat)
        session = requests.Session()
        session.get(url + path, timeout=60)
        wait_for_cached(cache_dir, path)
        before = session.get(url + path, timeout=30)
        assert before.headers["X-Tile-Cache"] == "hit"
        school = services.do_create_feature(
            "schools",
            {"code": f"FAST-{time.time_ns()}", "name": "Trường đường nhanh", "level": "thcs"},
            Point(lon, lat, srid=4326),
            actor="test",
        )
        last = FeatureHistory.objects.order_by("-id").values_list("id", flat=True).first()
        assert listener.wait_for(last, timeout=10), "the listener did not see the change"
        after = session.get(url + path, timeout=60)
        assert after.headers["X-Tile-Cache"] == "miss"
        assert after.headers["ETag"] != before.headers["ETag"]
        wait_for_cached(cache_dir, path)
        again = session.get(url + path, timeout=30)
        assert again.headers["X-Tile-Cache"] == "hit" and again.content == after.content
        assert school.name.encode() in after.content
    finally:
        stop.set()
        thread.join(10)


def test_etags_follow_the_bytes(settings, tmp_path):
    """The per-worker ETag memo never outlives a change of the cached bytes."""
    from tiles.service import etag_of

    settings.TILE_CACHE_DIR = tmp_path
    settings.TILE_CACHE_BACKEND = "file"
    cache = FileTileCache(tmp_path)
    call = FastPathProbe(fastpath.answer)
    for data in (b"first", b"second", b"second", b"first" * 1000, b"first"):
        cache.store("schools", "public", 5, 25, 14, data)
        _, seen, body = call("/tiles/schools/5/25/14.mvt", HTTP_HOST="localhost")
        assert body == data and seen["ETag"] == etag_of(data)
