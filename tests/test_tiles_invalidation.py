"""Exact invalidation: random edits through each path remove exactly the cached tiles whose
query envelope the old or new geometry meets — at every zoom, in every audience, in single and
combined keys — and keep every other tile. The listener runs (as a thread) during the tests.

Paths: the service functions (what the admin and the importers call), the OGC API's
transactions (POST/PUT/PATCH/DELETE on /ogc/collections/{layer}/items of a live server, as an
editor with HTTP Basic) and plain SQL as another database role (QGIS/psql).
"""

from __future__ import annotations

import threading
import time

import morecantile
import psycopg
import pytest
import requests
from django.contrib.gis.geos import Point
from django.core.management import call_command
from django.db import connection
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from geo.db import conninfo
from layers import services
from layers.registry import registry
from tiles import mvt
from tiles.cache import FileTileCache
from tiles.listener import ChangeListener

TMS = morecantile.tms.get("WebMercatorQuad")
ZOOMS = [0, 3, 6, 9, 10, 12, 14, 16, 18]
KEYS = [
    ("schools", "public"),
    ("schools,road_segments", "public"),
    ("cameras", "full"),
    ("health_facilities", "public"),
]
ROLE = "t_tiles_qgis"
# inside the province, away from its edge
lons = st.floats(min_value=105.6, max_value=106.1)
lats = st.floats(min_value=21.45, max_value=21.9)


@pytest.fixture
def listener(committed, settings, tmp_path):
    settings.TILE_CACHE_DIR = tmp_path / "tiles"
    settings.TILE_CACHE_BACKEND = "file"
    cache = FileTileCache(settings.TILE_CACHE_DIR)
    listener = ChangeListener(cache=cache)
    stop = threading.Event()
    thread = threading.Thread(target=listener.run, args=(stop,), daemon=True)
    thread.start()
    assert listener.ready.wait(10)
    yield listener
    stop.set()
    thread.join(10)


@pytest.fixture
def qgis_conn(committed):
    call_command("grant_layer_editing", ROLE, "--layers", "schools", "cameras", verbosity=0)
    dsn = conninfo(user=ROLE, password=None)
    with psycopg.connect(dsn, autocommit=True) as conn:
        yield conn


def last_history_id() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM layers_featurehistory")
        return cursor.fetchone()[0]


def margin(key: str, z: int) -> float:
    return max(
        mvt.query_margin(spec, z)
        for layer_id in key.split(",")
        for spec in mvt.specs_for(registry.get(layer_id), ())
    )


def meets(key: str, z: int, x: int, y: int, box, grow_deg: float = 0.0) -> bool:
    """Independent of tiles.invalidation: morecantile's tile bounds, grown in metres."""
    b = TMS.xy_bounds(x, y, z)
    m = margin(key, z) * (b.right - b.left)
    lo = TMS.xy(box[0] - grow_deg, box[1] - grow_deg)
    hi = TMS.xy(box[2] + grow_deg, box[3] + grow_deg)
    return not (lo.x > b.right + m or hi.x < b.left - m or lo.y > b.top + m or hi.y < b.bottom - m)


def seed_around(cache, points) -> list[tuple[str, str, int, int, int]]:
    """Placeholder tiles at and around the points (contents don't matter to invalidation)."""
    seeded = set()
    for lon, lat in points:
        for z in ZOOMS:
            t = TMS.tile(lon, lat, z)
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    x, y = t.x + dx, t.y + dy
                    if 0 <= x < 2**z and 0 <= y < 2**z:
                        for key, audience in KEYS:
                            seeded.add((key, audience, z, x, y))
    for address in seeded:
        cache.store(*address, b"tile")
    return sorted(seeded)


def check_exact(cache, seeded, layer_key_ids, boxes):
    boxes = [b for b in boxes if b]
    for key, audience, z, x, y in seeded:
        present = cache.load(key, audience, z, x, y) is not None
        shows = set(key.split(",")) & layer_key_ids
        must_go = bool(shows) and any(meets(key, z, x, y, b) for b in boxes)
        may_go = bool(shows) and any(meets(key, z, x, y, b, 1e-4) for b in boxes)
        if must_go:
            assert not present, f"stale tile kept: {key}/{audience}/{z}/{x}/{y}"
        elif not may_go:
            assert present, f"tile removed needlessly: {key}/{audience}/{z}/{x}/{y}"


def wait(listener, started: float) -> float:
    history_id = last_history_id()
    assert listener.wait_for(history_id, timeout=5), "the listener did not see the change"
    return time.monotonic() - started


def point_box(lon, lat):
    return (lon, lat, lon, lat)


def test_tile_ranges_agree_with_morecantile(db):
    """(Also the first test here, so the session's database is set up by a plain ``db`` test.)"""
    from tiles.invalidation import tile_range

    for z in (0, 5, 10, 15, 20):
        t = TMS.tile(105.84, 21.59, z)
        assert tile_range((105.84, 21.59, 105.84, 21.59), z, 0.0, 0.0) == (t.x, t.y, t.x, t.y)


# --- service path (admin, OGC API, importers) --------------------------------------------------
@hsettings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(lon1=lons, lat1=lats, lon2=lons, lat2=lats, op=st.sampled_from(["move", "attr", "delete"]))
def test_service_edits_invalidate_exactly(listener, lon1, lat1, lon2, lat2, op):
    cache = listener.cache
    school = services.do_create_feature(
        "schools",
        {"code": f"TT-{time.monotonic_ns()}", "name": "Trường thử", "level": "thcs"},
        Point(lon1, lat1, srid=4326),
        actor="test-tiles",
    )
    wait(listener, time.monotonic())
    seeded = seed_around(cache, [(lon1, lat1), (lon2, lat2)])
    started = time.monotonic()
    if op == "move":
        services.do_update_feature(
            "schools",
            school.pk,
            {},
            geometry=Point(lon2, lat2, srid=4326),
            expected_version=school.version,
            actor="test-tiles",
        )
        # Moving onto the same spot changes nothing: no new version, every tile is kept.
        unchanged = (lon1, lat1) == (lon2, lat2)
        boxes = [] if unchanged else [point_box(lon1, lat1), point_box(lon2, lat2)]
    elif op == "attr":
        services.do_update_feature(
            "schools",
            school.pk,
            {"name": "Trường đổi tên"},
            expected_version=school.version,
            actor="test-tiles",
        )
        boxes = [point_box(lon1, lat1)]
    else:
        services.do_delete_feature(
            "schools", school.pk, expected_version=school.version, actor="test-tiles"
        )
        boxes = [point_box(lon1, lat1)]
    assert wait(listener, started) < 5
    check_exact(cache, seeded, {"schools"}, boxes)


# --- the OGC API's transactions (QGIS ≥ 3.32, GDAL, other agencies) ---------------------------
def _feature(lon, lat, name="Trường OGC"):
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"code": f"TT-OGC-{time.monotonic_ns()}", "name": name, "level": "thcs"},
    }


@hsettings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    lon1=lons,
    lat1=lats,
    lon2=lons,
    lat2=lats,
    op=st.sampled_from(["create", "put-move", "patch-attr", "delete"]),
)
def test_ogc_api_edits_invalidate_exactly(live_url, users, listener, lon1, lat1, lon2, lat2, op):
    cache = listener.cache
    http = requests.Session()
    http.auth = ("t_editor", "pw-test-123!")
    items = f"{live_url}/ogc/collections/schools/items"
    geojson = {"Content-Type": "application/geo+json"}
    if op == "create":
        seeded = seed_around(cache, [(lon1, lat1)])
        started = time.monotonic()
        created = http.post(items, json=_feature(lon1, lat1), headers=geojson, timeout=20)
        assert created.status_code == 201, created.text
        assert wait(listener, started) < 5
        check_exact(cache, seeded, {"schools"}, [point_box(lon1, lat1)])
        return
    created = http.post(items, json=_feature(lon1, lat1), headers=geojson, timeout=20)
    assert created.status_code == 201, created.text
    url, etag = created.headers["Location"], created.headers["ETag"]
    wait(listener, time.monotonic())
    seeded = seed_around(cache, [(lon1, lat1), (lon2, lat2)])
    started = time.monotonic()
    if op == "put-move":
        feature = _feature(lon2, lat2)
        feature["properties"]["code"] = created.json()["properties"]["code"]
        response = http.put(url, json=feature, headers={**geojson, "If-Match": etag}, timeout=20)
        unchanged = (lon1, lat1) == (lon2, lat2)
        boxes = [] if unchanged else [point_box(lon1, lat1), point_box(lon2, lat2)]
    elif op == "patch-attr":
        response = http.patch(
            url,
            json={"type": "Feature", "properties": {"name": "Trường đổi tên"}},
            headers={"Content-Type": "application/merge-patch+json", "If-Match": etag},
            timeout=20,
        )
        boxes = [point_box(lon1, lat1)]
    else:
        response = http.delete(url, headers={"If-Match": etag}, timeout=20)
        boxes = [point_box(lon1, lat1)]
    assert response.status_code in (200, 204), response.text
    assert wait(listener, started) < 5
    check_exact(cache, seeded, {"schools"}, boxes)


# --- plain SQL as another database role (QGIS, psql) -------------------------------------------
@hsettings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
@given(lon1=lons, lat1=lats, lon2=lons, lat2=lats, bearing=st.floats(0, 359))
def test_sql_edits_by_another_role_invalidate_exactly(
    listener, qgis_conn, lon1, lat1, lon2, lat2, bearing
):
    cache = listener.cache
    cam_id = qgis_conn.execute(
        "INSERT INTO layers_camera (code, name, kind, purpose, geom, bearing, fov_angle, "
        "range_m, status, stream_url, snapshot_url, agency, access_level, address) VALUES "
        "(%s, 'Camera thử', 'fixed', 'traffic', ST_SetSRID(ST_MakePoint(%s, %s), 4326), "
        "%s, 60, 800, 'online', '', '', 'Test', 'internal', '') RETURNING id",
        [f"TT-{time.monotonic_ns()}", lon1, lat1, bearing],
    ).fetchone()[0]
    wait(listener, time.monotonic())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
            "(SELECT ST_Extent(ST_Collect(geom, fov)) e FROM layers_camera WHERE id = %s) q",
            [cam_id],
        )
        old_box = cursor.fetchone()
    seeded = seed_around(cache, [(lon1, lat1), (lon2, lat2)])
    started = time.monotonic()
    qgis_conn.execute(
        "UPDATE layers_camera SET geom = ST_SetSRID(ST_MakePoint(%s, %s), 4326) WHERE id = %s",
        [lon2, lat2, cam_id],
    )
    assert wait(listener, started) < 5
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
            "(SELECT ST_Extent(ST_Collect(geom, fov)) e FROM layers_camera WHERE id = %s) q",
            [cam_id],
        )
        new_box = cursor.fetchone()
    # The field of view (up to 800 m here) counts: tiles it reaches go too.
    unchanged = (lon1, lat1) == (lon2, lat2)  # no new version: every tile is kept
    check_exact(cache, seeded, {"cameras"}, [] if unchanged else [old_box, new_box])
    qgis_conn.execute("DELETE FROM layers_camera WHERE id = %s", [cam_id])
    wait(listener, time.monotonic())


def test_catch_up_after_downtime(committed, settings, tmp_path):
    """Changes made while the listener was down are applied when it starts again."""
    settings.TILE_CACHE_DIR = tmp_path / "tiles"
    cache = FileTileCache(settings.TILE_CACHE_DIR)
    first = ChangeListener(cache=cache)
    stop = threading.Event()
    thread = threading.Thread(target=first.run, args=(stop,), daemon=True)
    thread.start()
    assert first.ready.wait(10)
    stop.set()
    thread.join(10)
    lon, lat = 105.84, 21.59
    seeded = seed_around(cache, [(lon, lat)])
    services.do_create_feature(
        "schools",
        {"code": "TT-catchup", "name": "Trường thử", "level": "thcs"},
        Point(lon, lat, srid=4326),
        actor="test-tiles",
    )
    second = ChangeListener(cache=cache)
    stop = threading.Event()
    thread = threading.Thread(target=second.run, args=(stop,), daemon=True)
    thread.start()
    assert second.ready.wait(10)
    stop.set()
    thread.join(10)
    assert second.last_history_id >= last_history_id()
    check_exact(cache, seeded, {"schools"}, [point_box(lon, lat)])


def test_a_render_racing_an_edit_does_not_cache_a_stale_tile(committed, settings, tmp_path):
    """The epoch protocol: an invalidation during a render drops the rendered tile."""
    from tiles import service

    settings.TILE_CACHE_DIR = tmp_path / "tiles"
    cache = FileTileCache(settings.TILE_CACHE_DIR)
    t = TMS.tile(105.84, 21.59, 14)
    original = service.render

    def slow_render(*args, **kwargs):
        data = original(*args, **kwargs)
        cache.bump_epoch("schools")  # the listener invalidated schools meanwhile
        return data

    service.render = slow_render
    try:
        service.get_tile("schools", None, 14, t.x, t.y, cache=cache)
    finally:
        service.render = original
    assert cache.load("schools", "public", 14, t.x, t.y) is None
    service.get_tile("schools", None, 14, t.x, t.y, cache=cache)
    assert cache.load("schools", "public", 14, t.x, t.y) is not None


def test_listen_changes_command_runs_as_a_process(committed, settings, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    from geo.db import database_url

    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "IOC_TILE_CACHE_DIR": str(tmp_path / "tiles"),
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "listen_changes"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        state = tmp_path / "tiles" / ".listener-state.json"
        while not state.exists():
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.1)
        cache = FileTileCache(tmp_path / "tiles")
        lon, lat = 105.9, 21.6
        seeded = seed_around(cache, [(lon, lat)])
        services.do_create_feature(
            "schools",
            {"code": "TT-proc", "name": "Trường thử", "level": "thcs"},
            Point(lon, lat, srid=4326),
            actor="test-tiles",
        )
        t = TMS.tile(lon, lat, 16)
        while cache.load("schools", "public", 16, t.x, t.y) is not None:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        check_exact(cache, seeded, {"schools"}, [point_box(lon, lat)])
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=20)
    assert "listening" in out
