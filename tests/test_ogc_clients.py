"""/ogc against real clients on a real server (granian on the test database): OWSLib,
GDAL's OAPIF driver, QGIS 3.22, a replay of QGIS ≥ 3.32's editing requests, concurrent
editors, and a bounded schemathesis run over the OpenAPI document."""

from __future__ import annotations

import json
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
from tests.conftest import run_qgis

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
    data = run_qgis("ogc_oapif_read.py", f"{live_url}/ogc", "schools", *map(str, box))
    assert data["valid"]
    assert data["count_bbox"] == len(expected) > 0
    assert data["codes"] == expected


# --- QGIS ≥ 3.32 editing sequence, replayed ---
# What QGIS's OAPIF provider sends (src/providers/wfs/oapif/qgsoapif*request.cpp, 3.32–3.40):
# OPTIONS on /items (POST → can add) and on /items/<first id> (PUT/DELETE → can change/delete,
# PATCH → would PATCH instead of PUT); POST and PUT with Content-Type application/geo+json and
# Content-Crs (the layer CRS's URI, no angle brackets) and the whole feature as QgsJsonExporter
# writes it (every field it read, version included; "id" dropped from properties); DELETE bare.
# Never an If-Match.
QGIS_UA = "Mozilla/5.0 QGIS/33400/Debian GNU/Linux 13 (trixie)"


def _qgis_session(role: str) -> requests.Session:
    session = requests.Session()
    session.auth = auth(role)
    session.headers["User-Agent"] = QGIS_UA
    return session


def _qgis_put_body(read: dict, jsonid: str, **changes) -> str:
    props = {k: v for k, v in read["properties"].items() if k != "id"}
    return json.dumps(
        {
            "type": "Feature",
            "id": jsonid,
            "geometry": read["geometry"],
            "properties": {**props, **changes},
        }
    )


def _qgis_replay(live_url: str, role: str, existing: int) -> dict:
    session = _qgis_session(role)
    items = f"{live_url}/ogc/collections/schools/items"
    tm3 = crs_registry.lookup("EPSG:9213")
    write_headers = {"Content-Type": "application/geo+json", "Content-Crs": tm3.uri}
    first = session.get(f"{items}?limit=10", timeout=30)
    assert first.status_code == 200
    template = first.json()["features"][0]
    seen: dict = {
        "allow_items": session.options(items, timeout=10).headers.get("Allow", ""),
        "allow_item": session.options(f"{items}/{template['id']}", timeout=10).headers.get(
            "Allow", ""
        ),
    }
    # A new feature: every field QGIS knows, NULL unless typed in; geometry in the layer CRS.
    x, y = crs_registry.transformer("OGC:CRS84", tm3.code).transform(105.85, 21.6)
    props = {k: None for k in template["properties"] if k != "id"}
    props.update({"code": f"QGIS-{role}", "name": "QGIS", "level": "thpt"})
    created = session.post(
        items,
        data=json.dumps(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [x, y]},
                "properties": props,
            }
        ),
        headers=write_headers,
        timeout=10,
    )
    seen["post"] = created.status_code
    seen["post_text"] = created.text[:500]
    if created.status_code == 201:
        jsonid = created.headers["Location"].rsplit("/items/", 1)[1]
    else:
        jsonid = str(existing)
    url = f"{items}/{jsonid}"
    # QGIS re-reads the feature (in its layer CRS) and later PUTs it back whole.
    read = session.get(url, params={"crs": tm3.uri}, timeout=10).json()
    put = session.put(
        url, data=_qgis_put_body(read, jsonid, name="QGIS (sửa)"), headers=write_headers, timeout=10
    )
    seen["put"] = put.status_code
    if put.status_code == 200:
        seen["put_body"] = put.json()
        # A second QGIS still holding the old read: its PUT carries the stale version → 412.
        stale = session.put(
            url, data=_qgis_put_body(read, jsonid, name="mất"), headers=write_headers, timeout=10
        )
        seen["stale_put"] = stale.status_code
    deleted = session.delete(url, timeout=10)
    seen["delete"] = deleted.status_code
    seen["delete_headers"] = deleted.headers  # case-insensitive (granian sends lowercase names)
    seen["after"] = session.get(url, timeout=10).status_code
    return seen


def test_qgis_editing_sequence_editor_and_viewer(live_url, users, committed):
    demo = registry.get("schools").queryset().order_by("pk").first()
    editor = _qgis_replay(live_url, "editor", demo.pk)
    assert "POST" in editor["allow_items"]
    assert editor["post"] == 201, editor["post_text"]
    allow_item = set(editor["allow_item"].split(", "))
    assert {"PUT", "DELETE"} <= allow_item and "PATCH" not in allow_item  # so QGIS PUTs
    assert (editor["post"], editor["put"], editor["stale_put"], editor["delete"]) == (
        201,
        200,
        412,
        204,
    )
    assert editor["put_body"]["properties"]["name"] == "QGIS (sửa)"
    assert editor["put_body"]["properties"]["version"] == 2
    assert editor["delete_headers"]["IOC-Unconditional-Delete"] == "restorable-version=2"
    assert editor["after"] == 404

    viewer = _qgis_replay(live_url, "viewer", demo.pk)
    assert "POST" not in viewer["allow_items"] and "PUT" not in viewer["allow_item"]
    assert (viewer["post"], viewer["put"], viewer["delete"]) == (403, 403, 403)
    assert viewer["after"] == 200
    demo.refresh_from_db()
    assert demo.name != "QGIS (sửa)"


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
