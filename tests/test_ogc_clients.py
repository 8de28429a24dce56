"""/ogc against real clients on a real server (gunicorn on the test database): OWSLib,
GDAL's OAPIF driver, QGIS 3.22, a replay of QGIS ≥ 3.32's editing requests, concurrent
editors, and a bounded schemathesis run over the OpenAPI document."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
from django.contrib.gis.geos import Polygon
from owslib.ogcapi.features import Features

from geo import crs as crs_registry
from layers.registry import registry

PW = "pw-test-123!"
HERE = Path(__file__).parent
pytestmark = pytest.mark.slow


def auth(role: str) -> tuple[str, str]:
    return (f"t_{role}", PW)


# --- OWSLib ---
def test_owslib_reads(live_url, users, committed):
    api = Features(f"{live_url}/ogc")
    assert (
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
        in api.conformance()["conformsTo"]
    )
    anonymous = set(api.feature_collections())
    assert "schools" in anonymous and "cameras" not in anonymous
    operator = Features(f"{live_url}/ogc", auth=None, headers={"Authorization": _basic("operator")})
    assert "cameras" in set(operator.feature_collections())

    # paging to the end returns exactly numberMatched distinct features
    first = api.collection_items("communes", limit=25)
    total, seen, page = first["numberMatched"], [], first
    while True:
        seen += [f["id"] for f in page["features"]]
        nxt = [link["href"] for link in page["links"] if link["rel"] == "next"]
        if not nxt:
            break
        page = requests.get(nxt[0], timeout=30).json()
    assert len(seen) == len(set(seen)) == total == registry.get("communes").queryset().count()

    school = registry.get("schools").queryset().order_by("pk").first()
    x, y = school.geom.x, school.geom.y
    boxed = api.collection_items("schools", bbox=[x - 1e-4, y - 1e-4, x + 1e-4, y + 1e-4])
    assert school.pk in [f["id"] for f in boxed["features"]]
    filtered = api.collection_items("schools", filter=f"code = '{school.code}'")
    assert [f["id"] for f in filtered["features"]] == [school.pk]
    queryables = api.collection_queryables("schools")
    assert "name" in queryables["properties"]


def _basic(role: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"t_{role}:{PW}".encode()).decode()


def test_owslib_create_replace_delete(live_url, users, committed):
    api = Features(
        f"{live_url}/ogc",
        headers={"Authorization": _basic("editor"), "Content-Type": "application/geo+json"},
    )
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [105.83, 21.58]},
        "properties": {"code": "OWS-1", "name": "Trường OWSLib", "level": "tieu_hoc"},
    }
    api.collection_item_create("schools", json.dumps(feature))
    location = api.response_headers["Location"]
    item_id = location.rsplit("/", 1)[1]
    etag = api.response_headers["ETag"]
    feature["properties"]["name"] = "Trường OWSLib (sửa)"
    api.headers["If-Match"] = etag
    api.collection_item_update("schools", item_id, json.dumps(feature))
    assert api.collection_item("schools", item_id)["properties"]["name"] == "Trường OWSLib (sửa)"
    api.headers["If-Match"] = api.response_headers["ETag"]
    api.collection_item_delete("schools", item_id)
    assert requests.get(location, timeout=10).status_code == 404


# --- GDAL ---
def test_gdal_ogr2ogr_copies_communes(live_url, tmp_path):
    import pyogrio.raw
    import shapely

    out = tmp_path / "communes.gpkg"
    subprocess.run(
        ["ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{live_url}/ogc", "communes"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    meta, _fids, geometries, fields = pyogrio.raw.read(out)
    codes = fields[list(meta["fields"]).index("code")]
    layer = registry.get("communes")
    expected = {unit.code: unit.geom for unit in layer.queryset()}
    assert len(codes) == len(expected)
    for code, wkb in zip(codes, geometries, strict=True):
        geom = shapely.from_wkb(wkb)
        db_geom = shapely.from_wkb(bytes(expected[code].wkb))
        assert shapely.equals_exact(shapely.normalize(geom), shapely.normalize(db_geom), 1e-7), code


# --- QGIS 3.22 ---
@pytest.mark.qgis
def test_qgis_loads_oapif_with_request_bbox(live_url):
    layer = registry.get("schools")
    points = list(layer.queryset().order_by("pk").values_list("pk", "geom")[:400])
    xs = sorted(p.x for _pk, p in points)
    ys = sorted(p.y for _pk, p in points)
    box = (xs[len(xs) // 4], ys[len(ys) // 4], xs[3 * len(xs) // 4], ys[3 * len(ys) // 4])
    expected = sorted(
        layer.queryset()
        .filter(geom__intersects=Polygon.from_bbox(box))
        .values_list("code", flat=True)
    )
    result = subprocess.run(
        [
            "/usr/bin/python3",
            str(HERE / "fixtures" / "ogc" / "qgis_oapif.py"),
            f"{live_url}/ogc",
            "schools",
            *map(str, box),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": ""},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["valid"]
    assert data["count_bbox"] == len(expected) > 0
    assert data["codes"] == expected


# --- QGIS ≥ 3.32 editing sequence, replayed ---
def _qgis_edit_sequence(live_url: str, role: str) -> list[int]:
    """OPTIONS, POST (Content-Crs), PUT, DELETE as QGIS's OAPIF provider sends them."""
    session = requests.Session()
    session.auth = auth(role)
    items = f"{live_url}/ogc/collections/schools/items"
    statuses = []
    options = session.options(items, timeout=10)
    statuses.append(options.status_code)
    if "POST" not in options.headers.get("Allow", ""):
        statuses.append(session.post(items, json={}, timeout=10).status_code)
        return statuses
    tm3 = crs_registry.lookup("EPSG:9213")
    x, y = crs_registry.transformer("OGC:CRS84", tm3.code).transform(105.85, 21.6)
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [x, y]},
        "properties": {"code": f"QGIS-{role}", "name": "QGIS", "level": "thpt"},
    }
    headers = {"Content-Type": "application/geo+json", "Content-Crs": f"<{tm3.uri}>"}
    created = session.post(items, data=json.dumps(feature), headers=headers, timeout=10)
    statuses.append(created.status_code)
    if created.status_code != 201:
        return statuses
    url = created.headers["Location"]
    feature["properties"]["name"] = "QGIS (sửa)"
    put = session.put(
        url,
        data=json.dumps(feature),
        timeout=10,
        headers={**headers, "If-Match": created.headers["ETag"]},
    )
    statuses.append(put.status_code)
    deleted = session.delete(url, headers={"If-Match": put.headers.get("ETag", "")}, timeout=10)
    statuses.append(deleted.status_code)
    return statuses


def test_qgis_editing_sequence_editor_and_viewer(live_url, users, committed):
    assert _qgis_edit_sequence(live_url, "editor") == [204, 201, 200, 204]
    assert _qgis_edit_sequence(live_url, "viewer") == [204, 403]


# --- Concurrency ---
def test_two_editors_same_etag_exactly_one_wins(live_url, users, committed):
    from django.contrib.auth.models import Group

    users["operator"].groups.add(Group.objects.get(name="Biên tập GIS"))
    items = f"{live_url}/ogc/collections/schools/items"
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [105.86, 21.61]},
        "properties": {"code": "RACE-1", "name": "Race", "level": "thcs"},
    }
    created = requests.post(
        items,
        json=feature,
        auth=auth("editor"),
        timeout=10,
        headers={"Content-Type": "application/geo+json"},
    )
    assert created.status_code == 201
    url, etag = created.headers["Location"], created.headers["ETag"]
    barrier = threading.Barrier(2)
    results: dict[str, int] = {}

    def edit(role: str) -> None:
        body = json.dumps({**feature, "properties": {**feature["properties"], "name": role}})
        barrier.wait()
        response = requests.put(
            url,
            data=body,
            auth=auth(role),
            timeout=30,
            headers={"Content-Type": "application/geo+json", "If-Match": etag},
        )
        results[role] = response.status_code

    threads = [threading.Thread(target=edit, args=(r,)) for r in ("editor", "operator")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results.values()) == [200, 412], results
    winner = next(r for r, s in results.items() if s == 200)
    assert requests.get(url, timeout=10).json()["properties"]["name"] == winner


# --- schemathesis ---
def test_schemathesis_no_server_errors(live_url, tmp_path):
    st = Path(sys.executable).parent / "schemathesis"
    result = subprocess.run(
        [
            str(st),
            "run",
            f"{live_url}/ogc/openapi?f=json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "8",
            "--url",
            f"{live_url}/ogc",
            "--request-timeout",
            "30",
            "--max-time",
            "150",
            "--workers",
            "1",
            "--seed",
            "1",
            "--phases",
            "examples,fuzzing",
            "--exclude-path-regex",
            "processes|jobs|stac|tiles|maps|coverage|edr|position",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-5000:]
