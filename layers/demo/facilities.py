"""Schools and health facilities: the real OSM ones plus synthetic ones scaled by population."""

from __future__ import annotations

import random
from dataclasses import dataclass

import shapely
from shapely.geometry import Point

from layers.demo import SYNTHETIC, sources
from layers.demo.db import copy_rows, ewkt, present_keys, section_state
from layers.demo.geo import Commune, Context, round_point, sample_area, zone_pole
from layers.demo.traffic import HOW_TO_FIX, rng_for

# OSM features that are not what their tag says.
OSM_SKIP = {"5074649622": "a private house tagged as a school"}
PRIVATE_NAMES = (
    "Hoa Sen", "Sao Mai", "Ánh Dương", "Họa Mi", "Sơn Ca", "Tuổi Thơ", "Hướng Dương", "Bông Mai",
    "Ngôi Sao Nhỏ", "Cầu Vồng", "Mặt Trời Bé Thơ", "Thiên Thần Nhỏ", "Hoa Hồng", "Búp Sen Xanh",
    "Chồi Non", "Bình Minh", "Tuổi Hồng", "Thỏ Ngọc", "Việt Mỹ", "Ban Mai",
)  # fmt: skip


@dataclass
class Facility:
    code: str
    name: str
    kind: str  # school level or health facility kind
    ownership: str
    point: Point
    address: str
    osm_id: str = ""
    size: int | None = None  # pupils or beds
    staff: int | None = None  # teachers or health staff


def _address(commune: Commune, where: str = "") -> str:
    prefix = f"{where}, " if where else ""
    return f"{prefix}{commune.label}, tỉnh Thái Nguyên {SYNTHETIC}"


def _osm_point(feature) -> Point:
    geom = shapely.geometry.shape(feature["geometry"])
    if geom.geom_type == "Point":
        return Point(geom.x, geom.y)
    return zone_pole(geom)


def _osm_code(feature) -> str:
    kind = "N" if feature["geometry"]["type"] == "Point" else "W"
    return f"OSM-{kind}{feature['properties']['osm_id']}"


def _osm_in_province(ctx: Context, feature) -> tuple[Point, Commune] | None:
    p = round_point(_osm_point(feature))
    commune = ctx.commune_at(p)
    if commune is None:  # a gap or sliver of the simplified polygons: nearest commune owning it
        commune = next((c for c in ctx.communes if c.geom.covers(p)), None)
    if commune is None or not ctx.province.covers(p):
        return None
    return p, commune


# --- Schools ----------------------------------------------------------------------------------
# level: (name prefix, code prefix, share of the population enrolled, pupils per teacher)
LEVELS = {
    "mam_non": ("Trường Mầm non", "MN", 0.055, (11, 15)),
    "tieu_hoc": ("Trường Tiểu học", "TH", 0.085, (18, 23)),
    "thcs": ("Trường THCS", "THCS", 0.065, (16, 20)),
}


def _school_site(rng: random.Random, commune: Commune, base: str) -> Point:
    area = next((a for name, a in commune.predecessors if name == base and a is not None), None)
    if area is not None:
        return sample_area(area, rng, zone_pole(area), 500 if commune.urban else 900)
    return commune.sample(rng, commune.center, 700 if commune.urban else 2500)


def plan_schools(ctx: Context) -> list[Facility]:
    rng = rng_for("schools")
    schools: list[Facility] = []
    for commune in ctx.communes:
        pop = commune.population
        bases = [name for name, _ in commune.predecessors] or [commune.name]
        for level, (prefix, code, share, ratio) in LEVELS.items():
            n = max(1, round(pop / rng.uniform(6000, 10000)))
            for i in range(n):
                base = bases[i % len(bases)]
                suffix = f" số {i // len(bases) + 1}" if i >= len(bases) else ""
                pupils = max(40, round(pop * share / n * rng.uniform(0.8, 1.2)))
                schools.append(
                    Facility(
                        f"{code}-{commune.code}-{i + 1:02d}",
                        f"{prefix} {base}{suffix}",
                        level,
                        "public",
                        _school_site(rng, commune, base),
                        _address(commune, f"{commune.hamlet_word} {rng.randint(1, 20)}"),
                        size=pupils,
                        staff=max(4, round(pupils / rng.uniform(*ratio))),
                    )
                )
        n_thpt = round(pop / rng.uniform(25_000, 35_000))
        for i in range(n_thpt):
            base = commune.name if i == 0 else bases[i % len(bases)]
            if i > 0 and base == commune.name:
                base = f"{commune.name} số {i + 1}"
            pupils = rng.randint(900, 1600) if commune.urban else rng.randint(550, 1100)
            schools.append(
                Facility(
                    f"THPT-{commune.code}-{i + 1:02d}",
                    f"Trường THPT {base}",
                    "thpt",
                    "public",
                    commune.sample(rng, commune.center, 800 if commune.urban else 2000),
                    _address(commune),
                    size=pupils,
                    staff=round(pupils / rng.uniform(16, 20)),
                )
            )
        if commune.urban:  # private kindergartens and a few private multi-level schools
            for i in range(max(1, round(pop / 12_000))):
                brand = rng.choice(PRIVATE_NAMES)
                pupils = rng.randint(60, 260)
                schools.append(
                    Facility(
                        f"MNTT-{commune.code}-{i + 1:02d}",
                        f"Trường Mầm non tư thục {brand} {commune.name}",
                        "mam_non",
                        "private",
                        commune.sample(rng, commune.center, 900),
                        _address(commune),
                        size=pupils,
                        staff=max(5, round(pupils / rng.uniform(9, 13))),
                    )
                )
            if commune.in_city and rng.random() < 0.4:
                brand = rng.choice(PRIVATE_NAMES)
                pupils = rng.randint(450, 1300)
                schools.append(
                    Facility(
                        f"LC-{commune.code}-01",
                        f"Trường Liên cấp {brand} Thái Nguyên",
                        "lien_cap",
                        "private",
                        commune.sample(rng, commune.center, 1200),
                        _address(commune),
                        size=pupils,
                        staff=round(pupils / rng.uniform(13, 17)),
                    )
                )
    for code, district, _kind, _full, seat in district_seats(ctx):
        commune = ctx.commune_at(seat)
        pupils = rng.randint(250, 900)
        schools.append(
            Facility(
                f"GDTX-{code}",
                f"Trung tâm Giáo dục nghề nghiệp – Giáo dục thường xuyên khu vực {district}",
                "gdtx",
                "public",
                commune.sample(rng, seat, 900),
                _address(commune),
                size=pupils,
                staff=round(pupils / rng.uniform(14, 20)),
            )
        )
    # The real schools and universities OpenStreetMap knows (names and positions kept).
    for feature in sources.osm_pois():
        p = feature["properties"]
        if p["fclass"] not in ("school", "college", "university", "kindergarten"):
            continue
        if p["osm_id"] in OSM_SKIP or not p.get("name"):
            continue
        found = _osm_in_province(ctx, feature)
        if found is None:
            continue
        point, _commune = found
        name = p["name"]
        level = {"university": "dai_hoc", "kindergarten": "mam_non"}.get(p["fclass"], "thpt")
        if p["fclass"] in ("school", "college"):
            lowered = name.lower()
            level = next(
                (
                    lv
                    for key, lv in (
                        ("thpt", "thpt"),
                        ("thcs", "thcs"),
                        ("tiểu học", "tieu_hoc"),
                        ("mầm non", "mam_non"),
                        ("cao đẳng", "dai_hoc"),
                        ("đại học", "dai_hoc"),
                    )
                    if key in lowered
                ),
                "nghe" if p["fclass"] == "college" else "lien_cap",
            )
        schools.append(Facility(_osm_code(feature), name, level, "public", point, "", p["osm_id"]))
    return schools


SCHOOL_COLUMNS = (
    "code",
    "name",
    "level",
    "ownership",
    "pupils",
    "teachers",
    "address",
    "osm_id",
    "geom",
)


def load_schools(ctx: Context) -> tuple[int, str] | None:
    schools = plan_schools(ctx)
    if not section_state(
        "schools",
        {s.code for s in schools},
        present_keys("layers_school", "code"),
        HOW_TO_FIX.format(table="layers_school"),
    ):
        return None
    copy_rows(
        "layers_school",
        SCHOOL_COLUMNS,
        (
            (
                s.code,
                s.name[:200],
                s.kind,
                s.ownership,
                s.size,
                s.staff,
                s.address[:300],
                s.osm_id,
                ewkt(s.point),
            )
            for s in schools
        ),
    )
    osm = sum(1 for s in schools if s.osm_id)
    private = sum(1 for s in schools if s.ownership == "private")
    return len(schools), f"{osm} from OSM, {private} private"


# --- Health facilities ------------------------------------------------------------------------
# District seats (2024 district code → OSM town names, in order of preference).
SEATS = {
    "164": ("Thái Nguyên",), "165": ("Sông Công",), "167": ("Chợ Chu",), "168": ("Đu",),
    "169": ("Chùa Hang",), "170": ("Đình Cả",), "171": ("Hùng Sơn",), "172": ("Ba Hàng",),
    "173": ("Hương Sơn",), "058": ("Bắc Kạn",), "060": ("Bộc Bố",), "061": ("Chợ Rã",),
    "062": ("Vân Tùng", "Nà Phặc"), "063": ("Phủ Thông",), "064": ("Bằng Lũng",),
    "065": ("Chợ Mới",), "066": ("Yên Lạc",),
}  # fmt: skip


def district_seats(ctx: Context) -> list[tuple[str, str, str, str, Point]]:
    """(code, name, kind, full name, seat point) of each 2024 district, from OSM towns."""
    seats = []
    for code, name, kind, full_name, geom in ctx.districts:
        inside = [t for t in ctx.towns if geom.covers(t.point) and ctx.commune_at(t.point)]
        preferred = [t for n in SEATS.get(code, ()) for t in inside if t.name == n]
        town = (preferred or inside or [None])[0]
        if town is not None:
            point = town.point
        else:
            communes = [c for c in ctx.communes if c.district_code == code]
            point = max(communes, key=lambda c: c.population).center
        seats.append((code, name, kind, full_name, point))
    return seats


CITY_HOSPITALS = (
    ("Bệnh viện Đa khoa Thành phố Thái Nguyên", "public", (250, 450)),
    ("Bệnh viện Y học cổ truyền Thái Nguyên", "public", (150, 250)),
    ("Bệnh viện Phục hồi chức năng Thái Nguyên", "public", (100, 200)),
    ("Bệnh viện Đa khoa tư nhân An Phúc", "private", (80, 150)),
)


def plan_health(ctx: Context) -> list[Facility]:
    rng = rng_for("health")
    out: list[Facility] = []
    for commune in ctx.communes:
        staff = rng.randint(6, 9) + len(commune.predecessors) * rng.randint(1, 3)
        out.append(
            Facility(
                f"TYT-{commune.code}",
                f"Trạm y tế {commune.label}",
                "health_station",
                "public",
                commune.sample(rng, commune.center, 150),
                _address(commune),
                size=rng.randint(3, 6) if commune.urban else rng.randint(5, 10),
                staff=staff,
            )
        )
    for code, name, _kind, _full, seat in district_seats(ctx):
        commune = ctx.commune_at(seat)
        title = "thành phố Thái Nguyên" if code == "164" else f"khu vực {name}"
        beds = rng.randint(100, 250)
        out.append(
            Facility(
                f"TTYT-{code}",
                f"Trung tâm Y tế {title}",
                "medical_center",
                "public",
                commune.sample(rng, seat, 500),
                _address(commune),
                size=beds,
                staff=round(beds * rng.uniform(1.1, 1.6)),
            )
        )
    city = ctx.city.point
    for i, (name, ownership, beds_range) in enumerate(CITY_HOSPITALS, start=1):
        commune = ctx.commune_at(city)
        point = commune.sample(rng, city, 1500)
        commune = ctx.commune_at(point)
        beds = rng.randint(*beds_range)
        out.append(
            Facility(
                f"BV-TN-{i:02d}",
                name,
                "hospital",
                ownership,
                point,
                _address(commune),
                size=beds,
                staff=round(beds * rng.uniform(1.2, 1.8)),
            )
        )
    bac_kan = ctx.town_named("Bắc Kạn")
    if bac_kan is not None:
        bac_kan = bac_kan.point
        commune = ctx.commune_at(bac_kan)
        beds = rng.randint(400, 550)
        out.append(
            Facility(
                "BV-BK-01",
                "Bệnh viện Đa khoa khu vực Bắc Kạn",
                "hospital",
                "public",
                commune.sample(rng, bac_kan, 1200),
                _address(commune),
                size=beds,
                staff=round(beds * rng.uniform(1.2, 1.6)),
            )
        )
    kinds = {
        "hospital": "hospital",
        "clinic": "clinic",
        "doctors": "clinic",
        "dentist": "clinic",
        "pharmacy": "pharmacy",
    }
    for feature in sources.osm_pois():
        p = feature["properties"]
        kind = kinds.get(p["fclass"])
        if kind is None or p["osm_id"] in OSM_SKIP or not p.get("name"):
            continue
        found = _osm_in_province(ctx, feature)
        if found is None:
            continue
        ownership = "public" if kind == "hospital" else "private"
        out.append(
            Facility(_osm_code(feature), p["name"], kind, ownership, found[0], "", p["osm_id"])
        )
    return out


HEALTH_COLUMNS = (
    "code",
    "name",
    "kind",
    "ownership",
    "beds",
    "staff",
    "address",
    "phone",
    "osm_id",
    "geom",
)


def load_health(ctx: Context) -> tuple[int, str] | None:
    facilities = plan_health(ctx)
    if not section_state(
        "health facilities",
        {f.code for f in facilities},
        present_keys("layers_healthfacility", "code"),
        HOW_TO_FIX.format(table="layers_healthfacility"),
    ):
        return None
    copy_rows(
        "layers_healthfacility",
        HEALTH_COLUMNS,
        (
            (
                f.code,
                f.name[:200],
                f.kind,
                f.ownership,
                f.size,
                f.staff,
                f.address[:300],
                "",
                f.osm_id,
                ewkt(f.point),
            )
            for f in facilities
        ),
    )
    by: dict[str, int] = {}
    for f in facilities:
        by[f.kind] = by.get(f.kind, 0) + 1
    return len(facilities), ", ".join(f"{k} {v}" for k, v in sorted(by.items()))
