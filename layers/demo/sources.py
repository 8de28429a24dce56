"""Reading the copied source files (``layers/demo/data``) into plain Python records.

Every text is NFC-normalised on the way in: Vietnamese text from different sources mixes
composed and decomposed forms, and names are compared across sources.
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import Any

from layers.demo import DATA_DIR


class DemoDataError(Exception):
    """The source files are not what the loader expects (a failed match, a missing unit)."""


def nfc(value: Any) -> Any:
    return unicodedata.normalize("NFC", value).strip() if isinstance(value, str) else value


# Unit kind prefixes, longest first ("thị xã" before "xã"); canonical spelling and model kind.
KIND_PREFIXES: tuple[tuple[str, str, str], ...] = (
    ("thành phố", "Thành phố", "thanh_pho"),
    ("thị trấn", "Thị trấn", "thi_tran"),
    ("thị xã", "Thị xã", "thi_xa"),
    ("huyện", "Huyện", "huyen"),
    ("quận", "Quận", "quan"),
    ("phường", "Phường", "phuong"),
    ("tỉnh", "Tỉnh", "tinh"),
    ("xã", "Xã", "xa"),
)


def split_kind(full_name: str) -> tuple[str, str, str]:
    """'Thành Phố Bắc Kạn' → ('thanh_pho', 'Bắc Kạn', 'Thành phố Bắc Kạn')."""
    text = re.sub(r"\s+", " ", nfc(full_name))
    lowered = text.lower()
    for prefix, canonical, kind in KIND_PREFIXES:
        if lowered.startswith(prefix + " "):
            base = text[len(prefix) + 1 :].strip()
            return kind, base, f"{canonical} {base}"
    raise DemoDataError(f"no administrative kind prefix in {full_name!r}")


# Old ("hoà") and new ("hòa") tone-mark placement both occur in the sources.
_TONE_PLACEMENT = {
    "oà": "òa", "oá": "óa", "oả": "ỏa", "oã": "õa", "oạ": "ọa",
    "oè": "òe", "oé": "óe", "oẻ": "ỏe", "oẽ": "õe", "oẹ": "ọe",
    "uỳ": "ùy", "uý": "úy", "uỷ": "ủy", "uỹ": "ũy", "uỵ": "ụy",
}  # fmt: skip


def name_key(name: str) -> str:
    """A comparison key for a Vietnamese place name: NFC, case-folded, one tone placement."""
    key = re.sub(r"\s+", " ", nfc(name)).casefold()
    for old, new in _TONE_PLACEMENT.items():
        key = key.replace(old, new)
    return key


def _features(relative: str) -> list[dict[str, Any]]:
    with (DATA_DIR / relative).open(encoding="utf-8") as fh:
        data = json.load(fh)
    features = []
    for feature in data["features"]:
        props = {k: nfc(v) for k, v in (feature.get("properties") or {}).items()}
        features.append({"properties": props, "geometry": feature["geometry"]})
    return features


# --- Administrative units ---------------------------------------------------------------------
@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    full_name: str
    kind: str
    geometry: dict[str, Any]  # GeoJSON
    population: int | None = None
    area_km2: float | None = None
    source: str = ""
    parent_code: str = ""  # province code (districts) or district code (2009 communes)


SRC_2025 = "lamngockhuong/vietnam-3d-map (MIT; ranh giới gis.vn)"
SRC_2024 = "daohoangson/dvhcvn data/gis (gis.chinhphu.vn)"
SRC_2009 = "LucieContamin/censusVN2009 (MIT), Tổng điều tra dân số 2009"


@cache
def province_2025() -> Unit:
    (feature,) = _features("admin/2025/thai_nguyen_province.geojson")
    p = feature["properties"]
    return Unit(
        code=p["ma_tinh"],
        name=p["ten"],
        full_name=f"Tỉnh {p['ten']}",
        kind="tinh",
        geometry=feature["geometry"],
        population=int(p["dan_so"]),
        area_km2=float(p["dien_tich_km2"]),
        source=SRC_2025,
    )


@cache
def communes_2025() -> list[Unit]:
    units = []
    for feature in _features("admin/2025/thai_nguyen_communes.geojson"):
        p = feature["properties"]
        kind = {"Phường": "phuong", "Xã": "xa"}.get(p["loai"])
        if kind is None:
            raise DemoDataError(f"commune {p['ma_xa']}: unknown loai {p['loai']!r}")
        units.append(
            Unit(
                code=p["ma_xa"],
                name=p["ten"],
                full_name=p["ten_day_du"],
                kind=kind,
                geometry=feature["geometry"],
                population=int(p["dan_so"]),
                area_km2=float(p["dien_tich_km2"]),
                source=SRC_2025,
            )
        )
    return sorted(units, key=lambda u: u.code)


@cache
def provinces_2024() -> list[Unit]:
    units = []
    for name in ("thai_nguyen_province", "bac_kan_province"):
        (feature,) = _features(f"admin/pre2025/{name}.geojson")
        p = feature["properties"]
        kind, base, full = split_kind(p["name"])
        units.append(Unit(p["level1_id"], base, full, kind, feature["geometry"], source=SRC_2024))
    return units


@cache
def districts_2024() -> list[Unit]:
    units = []
    for name in ("thai_nguyen_districts", "bac_kan_districts"):
        for feature in _features(f"admin/pre2025/{name}.geojson"):
            p = feature["properties"]
            kind, base, full = split_kind(p["name"])
            units.append(
                Unit(
                    code=p["level2_id"],
                    name=base,
                    full_name=full,
                    kind=kind,
                    geometry=feature["geometry"],
                    source=SRC_2024,
                    parent_code=p["level1_id"],
                )
            )
    return sorted(units, key=lambda u: (u.parent_code, u.code))


@cache
def communes_2009() -> list[Unit]:
    """The 303 communes of the 2009 census, each tied to its 2024 district by name."""
    provinces = {name_key(u.name): u.code for u in provinces_2024()}
    districts = {(u.parent_code, name_key(u.name)): u for u in districts_2024()}
    units, unmatched = [], []
    for name in ("thai_nguyen_communes_2009", "bac_kan_communes_2009"):
        for feature in _features(f"admin/pre2025/{name}.geojson"):
            p = feature["properties"]
            province_code = provinces.get(name_key(p["province_vn"]))
            _, district_base, _ = split_kind(p["district_vn"])
            district = districts.get((province_code, name_key(district_base)))
            if district is None:
                unmatched.append(f"{p['commune_vn']} ({p['district_vn']}, {p['province_vn']})")
                continue
            kind, base, full = split_kind(p["commune_vn"])
            population = int(p["population"] or 0)
            units.append(
                Unit(
                    code=str(int(p["commune_id"])),
                    name=base,
                    full_name=full,
                    kind=kind,
                    geometry=feature["geometry"],
                    # 0 means "not counted": the unit was created after the census.
                    population=population or None,
                    source=SRC_2009,
                    parent_code=district.code,
                )
            )
    if unmatched:
        raise DemoDataError(
            f"{len(unmatched)} communes of 2009 match no 2024 district: " + "; ".join(unmatched)
        )
    return sorted(units, key=lambda u: u.code)


# --- Crosswalk --------------------------------------------------------------------------------
@dataclass(frozen=True)
class CrosswalkRow:
    old_code: str
    old_name: str
    old_district_code: str
    old_district_name: str
    old_province_code: str
    new_code: str
    merge_type: str


@cache
def gso_communes_2025_03() -> dict[str, dict[str, str]]:
    with (DATA_DIR / "admin/pre2025/communes_list_gso_2025-03.csv").open(encoding="utf-8") as fh:
        return {
            nfc(row["commune_code"]): {k: nfc(v) for k, v in row.items()}
            for row in csv.DictReader(fh)
        }


@cache
def crosswalk() -> list[CrosswalkRow]:
    with (DATA_DIR / "admin/2025/thai_nguyen_commune_merges.json").open(encoding="utf-8") as fh:
        merges = json.load(fh)
    gso = gso_communes_2025_03()
    rows = []
    for new in merges["level2s"]:
        for old in new["merges"]:
            info = gso.get(old["old_id"], {})
            district_name = info.get("district_name", "")
            if district_name:
                district_name = split_kind(district_name)[2]  # 'Thành Phố' → 'Thành phố'
            rows.append(
                CrosswalkRow(
                    old_code=old["old_id"],
                    old_name=nfc(old["name"]),
                    old_district_code=info.get("district_code", ""),
                    old_district_name=district_name,
                    old_province_code=info.get("province_code", ""),
                    new_code=new["level2_id"],
                    merge_type=old["type"],
                )
            )
    return rows


def predecessors() -> dict[str, list[str]]:
    """New commune code → full names of the old communes merged into it (in source order)."""
    found: dict[str, list[str]] = {}
    for row in crosswalk():
        found.setdefault(row.new_code, []).append(row.old_name)
    return found


# --- OpenStreetMap 2018 and national roads ----------------------------------------------------
@cache
def osm_places() -> list[dict[str, Any]]:
    return _features("osm_2018/osm_places.geojson")


@cache
def osm_pois() -> list[dict[str, Any]]:
    return _features("osm_2018/osm_pois.geojson") + _features("osm_2018/osm_pois_a.geojson")


@cache
def national_roads() -> list[dict[str, Any]]:
    """The non-rail lines, with ``ref`` ('QL3') parsed from ``ten`` ('Quốc lộ 3')."""
    roads = []
    for feature in _features("context/roads_rail_national_legocity.geojson"):
        p = feature["properties"]
        if p.get("loai_duong") == "Đường sắt":
            continue
        match = re.fullmatch(r"Quốc lộ\s+(\w+)", p["ten"] or "")
        if not match:
            raise DemoDataError(f"road {p.get('gid')}: cannot read a road number from {p['ten']!r}")
        roads.append(
            {
                "gid": int(p["gid"]),
                "name": p["ten"],
                "ref": f"QL{match.group(1)}",
                "geometry": feature["geometry"],
            }
        )
    return sorted(roads, key=lambda r: r["gid"])
