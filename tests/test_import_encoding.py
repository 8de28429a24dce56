"""Text encodings through the real command: whatever the file claims, names come out NFC."""

from __future__ import annotations

import io
import json
import unicodedata
from pathlib import Path

import numpy as np
import pyogrio.raw
import pytest
import shapely
from django.core.management import call_command

from importers import encoding
from layers.models import School

NAMES = ["Trường Tiểu học Hoàng Văn Thụ", "Trường THCS Đồng Bẩm", "Trường Mầm non Quyết Thắng"]
PLACES = [(105.8442, 21.5928), (105.8485, 21.4822), (105.8590, 21.4180)]


def _run(path: Path, *extra: str) -> dict:
    report = path.with_suffix(".json")
    call_command(
        "import_vector",
        str(path),
        "--layer",
        "schools",
        "--no-progress",
        "--report",
        str(report),
        *extra,
        stdout=io.StringIO(),
    )
    return json.loads(report.read_text())


def _csv(path: Path, names: list[str], codec) -> Path:
    lines = ["code,name,level,lon,lat"]
    lines += [
        f"ENC-{i},{n},tieu_hoc,{x},{y}"
        for i, (n, (x, y)) in enumerate(zip(names, PLACES, strict=True))
    ]
    path.write_bytes(codec("\n".join(lines) + "\n"))
    return path


TONES = "\u0300\u0301\u0303\u0309\u0323"


def _cp1258(text: str) -> bytes:
    """Windows-1258 as Vietnamese Windows wrote it: precomposed â ê ô ă ơ ư đ, the five
    tones as combining marks after the letter."""
    pieces = []
    for ch in unicodedata.normalize("NFC", text):
        d = unicodedata.normalize("NFD", ch)
        tone = "".join(c for c in d if c in TONES)
        pieces.append(unicodedata.normalize("NFC", "".join(c for c in d if c not in TONES)) + tone)
    return "".join(pieces).encode("cp1258")


def _viqr(text: str) -> bytes:
    table = {}
    for letter, code in encoding._tables()[encoding.VIQR].mapping.items():
        table[code] = letter
    out = []
    for ch in text:
        out.append(table.get(ch, ch))
    return "".join(out).encode("ascii")


@pytest.mark.parametrize(
    ("name", "codec", "label"),
    [
        ("cp1258", _cp1258, "Windows-1258"),
        ("viqr", _viqr, "VIQR"),
        ("nfd", lambda t: unicodedata.normalize("NFD", t).encode("utf-8"), "decomposed"),
        ("utf8", lambda t: t.encode("utf-8"), "Unicode (NFC)"),
    ],
)
def test_csv_encodings(db, tmp_path, name, codec, label):
    report = _run(_csv(tmp_path / f"{name}.csv", NAMES, codec))
    assert label in report["encodings"]["name"]
    got = list(
        School.objects.filter(code__startswith="ENC-")
        .order_by("code")
        .values_list("name", flat=True)
    )
    assert got == NAMES


def test_shapefile_whose_cpg_lies(db, tmp_path):
    """A .cpg saying UTF-8 over TCVN3 bytes: the bytes win (the reader opens shapefiles
    byte-preserving whatever the .cpg says)."""
    src = Path(__file__).parent / "fixtures" / "importers"
    for part in src.glob("tn_communes_2009_tcvn3.*"):
        (tmp_path / part.name).write_bytes(part.read_bytes())
    (tmp_path / "tn_communes_2009_tcvn3.cpg").write_text("UTF-8")
    fmap = tmp_path / "m.json"
    fmap.write_text(
        json.dumps({"code": "MA_XA", "name": "TEN_XA", "full_name": "TEN_XA", "kind": "=xa"})
    )
    call_command(
        "import_vector",
        str(tmp_path / "tn_communes_2009_tcvn3.shp"),
        "--layer",
        "communes_2009",
        "--field-map",
        str(fmap),
        "--mode",
        "upsert",
        "--no-progress",
        "--report",
        str(tmp_path / "r.json"),
        stdout=io.StringIO(),
    )
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["encodings"]["TEN_XA"] == "TCVN3 (ABC)"
    from layers.models import AdminUnit

    assert AdminUnit.objects.filter(layer="communes_2009", name="Phường Trưng Vương").exists()


def test_utf8_geojson_with_legacy_text_inside(db, tmp_path):
    """TCVN3 bytes mis-read as Latin-1 and saved as UTF-8 text (a common converted file)."""
    legacy = [_tcvn3(n) for n in ["Trường Tân Long", "Trường Quán Triều"]]
    path = tmp_path / "legacy.geojson"
    pyogrio.raw.write(
        str(path),
        shapely.to_wkb(shapely.points(np.array(PLACES[:2]))),
        [
            np.array(["L-0", "L-1"], dtype=object),
            np.array(legacy, dtype=object),
            np.array(["thcs", "thcs"], dtype=object),
        ],
        ["code", "name", "level"],
        driver="GeoJSON",
        geometry_type="Point",
        crs="EPSG:4326",
    )
    report = _run(path)
    assert report["encodings"]["name"] == "TCVN3 (ABC)"
    assert School.objects.get(code="L-1").name == "Trường Quán Triều"


def _tcvn3(text: str) -> str:
    reverse = {v: k for k, v in encoding._tables()[encoding.TCVN3].mapping.items()}
    return "".join(reverse.get(ch, ch) for ch in text)
