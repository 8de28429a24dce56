"""import_vector against real files and the real PostGIS: formats, legacy encodings, VN-2000
detection, swapped axes, bad input, transactions, upsert history and NOTIFY."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import psycopg
import pyogrio.raw
import pytest
import shapely
from django.conf import settings
from django.core.management import CommandError, call_command
from pyproj import Geod

from geo.crs import transformer
from geo.db import conninfo
from layers.models import AdminUnit, FeatureHistory, School

FIXTURES = Path(__file__).parent / "fixtures" / "importers"
CHANNEL = settings.IOC_CHANGE_CHANNEL

# Real places in Thái Nguyên (lon, lat): city centre, Sông Công, Phổ Yên.
PLACES = [(105.8442, 21.5928), (105.8485, 21.4822), (105.8590, 21.4180)]
FIELD_MAP_2009 = {
    "code": "MA_XA",
    "name": "TEN_XA",
    "full_name": "TEN_XA",
    "kind": "=xa",
    "population": "DAN_SO",
    "population_year": "=2009",
}


def _import(path, layer: str, *extra: str) -> None:
    call_command(
        "import_vector", str(path), "--layer", layer, "--no-progress", *extra,
        stdout=io.StringIO(),
    )  # fmt: skip


def run(path, layer="schools", *extra: str) -> dict:
    """Run the command; returns its JSON report."""
    report = Path(str(path) + ".report.json")
    _import(path, layer, "--report", str(report), *extra)
    return json.loads(report.read_text())


def fail(path, layer="schools", *extra: str) -> str:
    with pytest.raises(CommandError) as info:
        _import(path, layer, *extra)
    return str(info.value)


def write_schools(
    path: Path, driver: str, points=PLACES, *, crs="EPSG:4326", prefix="IMP", names=None, **kwargs
) -> Path:
    n = len(points)
    geoms = shapely.to_wkb(shapely.points(np.array(points)))
    names = names or [f"Trường thử {i}" for i in range(n)]
    pyogrio.raw.write(
        str(path),
        geoms,
        [
            np.array([f"{prefix}-{i}" for i in range(n)], dtype=object),
            np.array(names, dtype=object),
            np.array(["tieu_hoc"] * n, dtype=object),
            np.array([100 + i for i in range(n)], dtype=np.int32),
        ],
        ["code", "name", "level", "pupils"],
        driver=driver,
        geometry_type="Point",
        crs=crs,
        **kwargs,
    )
    return path


def write_table(path: Path, header: list[str], rows: list[list]) -> Path:
    if path.suffix == ".xlsx":
        import openpyxl

        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append(header)
        for row in rows:
            sheet.append(row)
        book.save(path)
    else:
        path.write_text(
            "\n".join(",".join(str(v) for v in r) for r in [header, *rows]) + "\n",
            encoding="utf-8",
        )
    return path


def zip_files(path: Path, files: dict[str, bytes | Path]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            zf.writestr(name, content.read_bytes() if isinstance(content, Path) else content)
    return path


def copy_shapefile(stem: str, dest: Path) -> Path:
    for src in FIXTURES.glob(f"{stem}.*"):
        shutil.copy(src, dest / src.name)
    return dest / f"{stem}.shp"


# --- Legacy encodings ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("stem", "label"),
    [
        ("tn_communes_2009_tcvn3", "TCVN3 (ABC)"),
        ("tn_communes_2009_vni", "VNI-Windows"),
    ],
)
def test_legacy_encoded_shapefiles_come_out_as_vietnamese(db, tmp_path, stem, label):
    AdminUnit.objects.filter(layer="communes_2009").delete()
    fmap = tmp_path / "map.json"
    fmap.write_text(json.dumps(FIELD_MAP_2009))
    report = run(copy_shapefile(stem, tmp_path), "communes_2009", "--field-map", str(fmap))
    assert report["encodings"]["TEN_XA"] == label
    assert report["counts"]["inserted"] == 181 and report["counts"]["rejected"] == 0
    units = AdminUnit.objects.filter(layer="communes_2009")
    names = set(units.values_list("name", flat=True))
    assert {"Phường Trưng Vương", "Phường Tân Long", "Phường Quán Triều"} <= names
    assert all(n.isprintable() and "\xad" not in n for n in names)
    unit = units.get(code="2150101")
    assert unit.population == 6416 and unit.kind == "xa" and unit.generation == "2009"
    assert unit.created_by == "importer"


# --- Formats ------------------------------------------------------------------------------------
def _vector(tmp_path: Path, fmt: str) -> Path:
    if fmt == "shapefile-zip":
        shp = write_schools(tmp_path / "truong.shp", "ESRI Shapefile", encoding="UTF-8")
        return (
            zip_files(
                tmp_path / "truong.zip",
                {p.name: p for p in tmp_path.glob("truong.*") if p.suffix != ".zip"},
            )
            if shp
            else shp
        )
    if fmt == "kmz":
        kml = write_schools(tmp_path / "doc.kml", "KML")
        return zip_files(tmp_path / "truong.kmz", {"doc.kml": kml})
    ext, driver = {
        "gpkg": (".gpkg", "GPKG"),
        "geojson": (".geojson", "GeoJSON"),
        "fgb": (".fgb", "FlatGeobuf"),
        "kml": (".kml", "KML"),
        "shapefile": (".shp", "ESRI Shapefile"),
    }[fmt]
    return write_schools(tmp_path / f"truong{ext}", driver)


@pytest.mark.parametrize(
    "fmt", ["shapefile", "shapefile-zip", "gpkg", "geojson", "fgb", "kml", "kmz"]
)
def test_every_vector_format(db, tmp_path, fmt):
    report = run(_vector(tmp_path, fmt))
    assert report["counts"]["inserted"] == 3, report
    school = School.objects.get(code="IMP-1")
    assert school.name == "Trường thử 1" and school.level == "tieu_hoc"
    assert school.geom.distance(shapely_point(PLACES[1])) < 1e-7
    assert school.commune_id is not None  # the database derived it


def shapely_point(xy):
    from django.contrib.gis.geos import Point

    return Point(*xy, srid=4326)


@pytest.mark.parametrize("ext", [".csv", ".xlsx"])
def test_tables_with_coordinate_columns(db, tmp_path, ext):
    rows = [[f"TBL-{i}", f"Trường bảng {i}", "thcs", x, y] for i, (x, y) in enumerate(PLACES)]
    path = write_table(tmp_path / f"bang{ext}", ["code", "name", "level", "kinh_do", "vi_do"], rows)
    report = run(path)
    assert report["counts"]["inserted"] == 3
    assert report["crs"]["code"] == "EPSG:4326" and not report["crs"]["swapped_axes"]
    assert School.objects.get(code="TBL-2").geom.distance(shapely_point(PLACES[2])) < 1e-7


# --- Coordinate systems -------------------------------------------------------------------------
def test_tm3_file_without_prj_lands_within_10cm(db, tmp_path):
    to_tm3 = transformer("OGC:CRS84", "EPSG:9213")
    projected = [to_tm3.transform(x, y) for x, y in PLACES]
    path = write_schools(
        tmp_path / "vn2000.shp", "ESRI Shapefile", projected, crs=None, encoding="UTF-8"
    )
    assert not path.with_suffix(".prj").exists()
    report = run(path)
    assert report["crs"]["code"] == "EPSG:9213" and report["crs"]["confidence"] == "high"
    # The reference: pyproj with the official VN-2000 datum shift.
    back = transformer("EPSG:9213", "OGC:CRS84")
    geod = Geod(ellps="WGS84")
    for i, (e, n) in enumerate(projected):
        ref = back.transform(e, n)
        got = School.objects.get(code=f"IMP-{i}").geom
        assert geod.inv(ref[0], ref[1], got.x, got.y)[2] < 0.1


def test_swapped_xy_columns_are_detected(db, tmp_path):
    """Survey tables label northing X: a CSV in TM-3 with X=northing, Y=easting."""
    to_tm3 = transformer("OGC:CRS84", "EPSG:9213")
    rows = []
    for i, (lon, lat) in enumerate(PLACES):
        e, n = to_tm3.transform(lon, lat)
        rows.append([f"SW-{i}", f"Trường {i}", "thpt", f"{n:.3f}", f"{e:.3f}"])
    report = run(write_table(tmp_path / "khaosat.csv", ["code", "name", "level", "X", "Y"], rows))
    assert report["crs"]["swapped_axes"] is True and report["crs"]["code"] == "EPSG:9213"
    got = School.objects.get(code="SW-0").geom
    assert abs(got.x - PLACES[0][0]) < 1e-5 and abs(got.y - PLACES[0][1]) < 1e-5


def test_declared_srs_option_overrides_detection(db, tmp_path):
    to_utm = transformer("OGC:CRS84", "EPSG:3405")
    projected = [to_utm.transform(x, y) for x, y in PLACES]
    path = write_schools(tmp_path / "utm.geojson", "GeoJSON", projected, crs=None)
    report = run(path, "schools", "--srs", "EPSG:3405")
    assert report["crs"]["code"] == "EPSG:3405"
    got = School.objects.get(code="IMP-0").geom
    assert abs(got.x - PLACES[0][0]) < 1e-6


# --- Validation ---------------------------------------------------------------------------------
def test_invalid_features_reject_the_whole_import_unless_skipped(db, tmp_path):
    points = [*PLACES, (108.2, 16.05)]  # Đà Nẵng: in Vietnam, not in the province
    path = write_schools(tmp_path / "mixed.gpkg", "GPKG", points)
    before = School.objects.count()
    message = fail(path)
    assert "features_rejected" in message and School.objects.count() == before
    report = run(path, "schools", "--skip-invalid")
    assert report["counts"]["inserted"] == 3 and report["counts"]["rejected"] == 1
    [rejected] = report["rejected"]
    assert rejected["row"] == 4 and "outside" in rejected["reasons"][0]


def test_bad_values_are_listed_per_feature(db, tmp_path):
    rows = [
        ["V-1", "Trường A", "tieu_hoc", 105.84, 21.59, "12"],
        ["V-2", "Trường B", "khong_co", 105.85, 21.60, "nhiều"],
    ]
    path = write_table(tmp_path / "v.csv", ["code", "name", "level", "lon", "lat", "pupils"], rows)
    report = run(path, "schools", "--skip-invalid")
    assert report["counts"]["inserted"] == 1
    reasons = " ".join(report["rejected"][0]["reasons"])
    assert "level" in reasons and "pupils" in reasons


def test_invalid_polygon_is_repaired_and_reported(db, tmp_path):
    # A bow-tie ring inside Thái Nguyên: make_valid splits it into two triangles.
    bowtie = shapely.from_wkt(
        "POLYGON((105.80 21.55, 105.82 21.57, 105.82 21.55, 105.80 21.57, 105.80 21.55))"
    )
    path = tmp_path / "xa.geojson"
    pyogrio.raw.write(
        str(path),
        shapely.to_wkb(np.array([bowtie])),
        [np.array(["T-1"], dtype=object), np.array(["Xã thử"], dtype=object)],
        ["MA", "TEN"],
        driver="GeoJSON",
        geometry_type="Polygon",
        crs="EPSG:4326",
    )
    fmap = tmp_path / "m.json"
    fmap.write_text(json.dumps({"code": "MA", "name": "TEN", "full_name": "TEN", "kind": "=xa"}))
    report = run(path, "communes_2009", "--field-map", str(fmap))
    assert report["counts"]["inserted"] == 1 and report["counts"]["repaired"] == 1
    assert "Self-intersection" in report["repaired"][0]["reason"]
    unit = AdminUnit.objects.get(layer="communes_2009", code="T-1")
    assert unit.geom.valid and unit.geom.num_geom == 2


def test_dry_run_writes_nothing(db, tmp_path):
    before = School.objects.count()
    report = run(_vector(tmp_path, "geojson"), "schools", "--dry-run")
    assert report["dry_run"] and report["counts"]["inserted"] == 3
    assert School.objects.count() == before


# --- Bad input: a clear error, a non-zero exit, nothing written ---------------------------------
def test_missing_sidecars(db, tmp_path):
    shp = write_schools(tmp_path / "t.shp", "ESRI Shapefile")
    tmp_path.joinpath("t.shx").unlink()
    assert "missing_sidecar" in fail(shp) and ".shx" in fail(shp)
    tmp_path.joinpath("t.dbf").unlink()
    assert ".dbf" in fail(shp)


def test_empty_files(db, tmp_path):
    empty = tmp_path / "rong.geojson"
    empty.write_bytes(b"")
    assert "empty_source" in fail(empty)
    no_features = tmp_path / "khong.geojson"
    no_features.write_text('{"type": "FeatureCollection", "features": []}')
    assert "empty_source" in fail(no_features)


def test_zip_with_path_traversal(db, tmp_path):
    kml = write_schools(tmp_path / "doc.kml", "KML")
    path = zip_files(tmp_path / "evil.zip", {"../../evil.kml": kml})
    assert "unsafe_archive" in fail(path)
    assert not (tmp_path.parent / "evil.kml").exists()


def test_zip_bomb(db, tmp_path, settings):
    settings.IMPORTERS_MAX_EXPANDED_BYTES = 5_000_000
    path = zip_files(tmp_path / "bomb.zip", {"a.geojson": b" " * 20_000_000})
    assert "unsafe_archive" in fail(path)


def test_file_that_is_not_what_its_extension_says(db, tmp_path):
    fake = tmp_path / "fake.gpkg"
    fake.write_text("code,name\n1,a\n")
    assert "content_mismatch" in fail(fake)
    fake_shp = tmp_path / "fake.shp"
    fake_shp.write_bytes(b"not a shapefile at all")
    assert "content_mismatch" in fail(fake_shp)


def test_unknown_layer_and_bad_field_map(db, tmp_path):
    path = _vector(tmp_path, "geojson")
    assert "unknown_layer" in fail(path, "khong_co_lop")
    fmap = tmp_path / "m.json"
    fmap.write_text(json.dumps({"name": "TEN_TRUONG"}))
    message = fail(path, "schools", "--field-map", str(fmap))
    assert "field_map" in message and "TEN_TRUONG" in message


def test_wrong_geometry_type_fails_fast(db, tmp_path):
    copy = copy_shapefile("tn_communes_2009_tcvn3", tmp_path)
    message = fail(copy, "schools", "--field-map", str(_schools_map(tmp_path)))
    assert "geometry_type_mismatch" in message


def _schools_map(tmp_path: Path) -> Path:
    fmap = tmp_path / "s.json"
    fmap.write_text(json.dumps({"code": "MA_XA", "name": "TEN_XA", "level": "=thcs"}))
    return fmap


# --- Upsert, history, NOTIFY --------------------------------------------------------------------
def test_upsert_is_idempotent_and_keeps_history(db, tmp_path):
    path = _vector(tmp_path, "gpkg")
    first = run(path, "schools", "--mode", "upsert", "--actor", "nhap-lan-1")
    assert first["counts"]["inserted"] == 3
    again = run(path, "schools", "--mode", "upsert", "--actor", "nhap-lan-2")
    counts = again["counts"]
    assert (counts["inserted"], counts["updated"], counts["unchanged"]) == (0, 0, 3)
    school = School.objects.get(code="IMP-0")
    assert school.version == 1 and school.updated_by == "nhap-lan-1"
    changed = write_schools(
        tmp_path / "v2.gpkg", "GPKG", names=["Trường đổi tên", "Trường thử 1", "Trường thử 2"]
    )
    third = run(changed, "schools", "--mode", "upsert", "--actor", "nhap-lan-3")
    assert third["counts"]["updated"] == 1 and third["counts"]["unchanged"] == 2
    school.refresh_from_db()
    assert school.name == "Trường đổi tên" and school.version == 2
    rows = FeatureHistory.objects.filter(layer="schools", feature_id=school.pk).order_by("id")
    assert [(r.op, r.version, r.actor) for r in rows] == [
        ("I", 1, "nhap-lan-1"),
        ("U", 2, "nhap-lan-3"),
    ]
    assert rows[1].old_data["name"] == "Trường thử 0"


def test_replace_mode_deletes_what_the_file_no_longer_has(db, tmp_path):
    run(_vector(tmp_path, "geojson"), "schools", "--mode", "upsert")
    fewer = write_schools(tmp_path / "fewer.gpkg", "GPKG", PLACES[:2])
    report = run(fewer, "schools", "--mode", "replace", "--dry-run")
    assert report["counts"]["deleted"] > 1  # the demo's schools too: replace means replace
    assert School.objects.filter(code="IMP-2").exists()


def test_import_commits_reach_listeners_and_ogc_items(committed, tmp_path, live_url):
    import urllib.request

    with psycopg.connect(conninfo(), autocommit=True) as conn:
        conn.execute(f"LISTEN {CHANNEL}")
        run(
            write_schools(tmp_path / "n.geojson", "GeoJSON", prefix="NTF"),
            "schools",
            "--actor",
            "nhap-notify",
        )
        payloads = [json.loads(n.payload) for n in conn.notifies(timeout=5, stop_after=3)]
    assert [(p["layer"], p["op"], p["version"]) for p in payloads] == [("schools", "I", 1)] * 3
    ids = set(School.objects.filter(code__startswith="NTF-").values_list("id", flat=True))
    assert {p["id"] for p in payloads} == ids
    lon, lat = PLACES[0]
    assert payloads[0]["new_bbox"] == pytest.approx([lon, lat, lon, lat])
    rows = FeatureHistory.objects.filter(layer="schools", feature_id__in=ids)
    assert {r.actor for r in rows} == {"nhap-notify"}
    with urllib.request.urlopen(
        f"{live_url}/ogc/collections/schools/items?f=json&limit=1000&bbox=105.84,21.41,105.86,21.60"
    ) as resp:
        items = json.load(resp)
    codes = {f["properties"].get("code") for f in items["features"]}
    assert {"NTF-0", "NTF-1", "NTF-2"} <= codes


def test_duplicate_keys_in_an_upsert_are_rejected(db, tmp_path):
    rows = [["D-1", "Trường A", "thcs", 105.84, 21.59], ["D-1", "Trường B", "thcs", 105.85, 21.6]]
    path = write_table(tmp_path / "dup.csv", ["code", "name", "level", "lon", "lat"], rows)
    assert "features_rejected" in fail(path, "schools", "--mode", "upsert")
    report = run(path, "schools", "--mode", "upsert", "--skip-invalid")
    assert report["counts"]["inserted"] == 1 and report["rejected"][0]["row"] == 2
    assert "duplicate key" in report["rejected"][0]["reasons"][0]
    assert School.objects.get(code="D-1").name == "Trường A"
