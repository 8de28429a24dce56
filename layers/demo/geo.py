"""The spatial context synthetic objects are placed in, read back from the loaded admin units.

Geometries come from the database (the rows the triggers will test points against), so a point
this module calls "inside commune X" is inside X for PostGIS too. Each 2025 commune gets a
*zone*: its polygon ∩ the province, minus its neighbours' sliver overlaps, shrunk by ≈ 20 m; a
point in a commune's zone is covered by the province and intersects that commune only.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

import shapely
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry
from shapely.ops import polylabel, substring

from layers.demo import sources
from layers.demo.db import fetch

M_PER_DEG_LAT = 110_574.0
ZONE_INSET_DEG = 0.0002  # ≈ 20 m
CITY_DISTRICT = "164"  # Thành phố Thái Nguyên (2024)
BAC_KAN_PROVINCE = "06"


def m_per_deg_lon(lat: float) -> float:
    return 111_320.0 * math.cos(math.radians(lat))


def distance_m(a: Point, b: Point) -> float:
    lat = (a.y + b.y) / 2
    return math.hypot((b.x - a.x) * m_per_deg_lon(lat), (b.y - a.y) * M_PER_DEG_LAT)


def azimuth(a: Point, b: Point) -> float:
    """Bearing from a to b in degrees clockwise from north, in [0, 360)."""
    lat = (a.y + b.y) / 2
    dx = (b.x - a.x) * m_per_deg_lon(lat)
    dy = (b.y - a.y) * M_PER_DEG_LAT
    return math.degrees(math.atan2(dx, dy)) % 360


def offset(p: Point, dist_m: float, bearing: float) -> Point:
    rad = math.radians(bearing)
    return Point(
        p.x + dist_m * math.sin(rad) / m_per_deg_lon(p.y),
        p.y + dist_m * math.cos(rad) / M_PER_DEG_LAT,
    )


def line_length_m(line: LineString) -> float:
    coords = list(line.coords)
    return sum(distance_m(Point(a), Point(b)) for a, b in zip(coords, coords[1:], strict=False))


def round_point(p: Point) -> Point:
    return Point(round(p.x, 7), round(p.y, 7))


@dataclass
class Place:
    name: str
    fclass: str
    osm_id: str
    point: Point


@dataclass
class Commune:
    id: int
    code: str
    name: str
    full_name: str
    kind: str
    population: int
    area_km2: float
    geom: BaseGeometry
    zone: BaseGeometry
    district_code: str = ""
    province_code: str = ""  # before 2025: '19' Thái Nguyên or '06' Bắc Kạn
    towns: list[Place] = field(default_factory=list)
    villages: list[Place] = field(default_factory=list)
    # (old commune base name, the part of its 2009 area inside this commune's zone or None)
    predecessors: list[tuple[str, BaseGeometry | None]] = field(default_factory=list)
    old_labels: dict[str, str] = field(default_factory=dict)  # 'Cù Vân' → 'xã Cù Vân'

    @property
    def urban(self) -> bool:
        return self.kind == "phuong"

    @property
    def label(self) -> str:
        """'phường Phan Đình Phùng' / 'xã An Khánh' (as written inside a sentence)."""
        return f"{'phường' if self.urban else 'xã'} {self.name}"

    @property
    def hamlet_word(self) -> str:
        if self.urban:
            return "tổ dân phố"
        return "thôn" if self.province_code == BAC_KAN_PROVINCE else "xóm"

    @property
    def in_city(self) -> bool:
        return self.district_code == CITY_DISTRICT

    @cached_property
    def center(self) -> Point:
        """The town centre when OSM knows one here, else the zone's pole of inaccessibility."""
        if self.towns:
            return self.towns[0].point
        return zone_pole(self.zone)

    def contains(self, p: Point) -> bool:
        return bool(shapely.contains_xy(self.zone, p.x, p.y))

    def sample(
        self, rng: random.Random, around: Point | None = None, sigma_m: float = 0.0
    ) -> Point:
        """A random point in the zone: uniform, or normal around ``around`` (σ in metres)."""
        return sample_area(self.zone, rng, around, sigma_m)


def sample_area(
    area: BaseGeometry, rng: random.Random, around: Point | None = None, sigma_m: float = 0.0
) -> Point:
    """A random point in a (prepared) area: uniform, or normal around ``around`` (σ in m)."""
    minx, miny, maxx, maxy = area.bounds
    for attempt in range(400):
        if around is not None and attempt < 300:
            s = sigma_m * (1 + attempt // 60)  # widen when the centre is near an edge
            x = around.x + rng.gauss(0, s) / m_per_deg_lon(around.y)
            y = around.y + rng.gauss(0, s) / M_PER_DEG_LAT
        else:
            x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        x, y = round(x, 7), round(y, 7)
        if shapely.contains_xy(area, x, y):
            return Point(x, y)
    return zone_pole(area)


def zone_pole(zone: BaseGeometry) -> Point:
    largest = max(getattr(zone, "geoms", [zone]), key=lambda g: g.area)
    return round_point(polylabel(largest, tolerance=0.0005))


@dataclass
class RoadLine:
    """A national road clipped to the province: one connected line."""

    gid: int
    part: int
    ref: str
    name: str
    line: LineString

    @cached_property
    def length_m(self) -> float:
        return line_length_m(self.line)

    def split(self, target_m: float = 4500.0) -> list[LineString]:
        """Pieces of about equal length, none longer than ``target_m`` (2–5 km for long roads)."""
        n = max(1, math.ceil(self.length_m / target_m))
        return [substring(self.line, i / n, (i + 1) / n, normalized=True) for i in range(n)]

    def stations(self, step_m: float) -> list[tuple[Point, float, float]]:
        """(point, local azimuth, distance from start) every ``step_m`` metres along the line."""
        cache = self.__dict__.setdefault("_station_cache", {})
        if step_m not in cache:
            cache[step_m] = self._stations(step_m)
        return list(cache[step_m])

    def _stations(self, step_m: float) -> list[tuple[Point, float, float]]:
        coords = [Point(c) for c in self.line.coords]
        out, travelled, next_at = [], 0.0, step_m / 2
        for a, b in zip(coords, coords[1:], strict=False):
            seg = distance_m(a, b)
            if seg == 0:
                continue
            bearing = azimuth(a, b)
            while next_at <= travelled + seg:
                t = (next_at - travelled) / seg
                out.append((Point(a.x + t * (b.x - a.x), a.y + t * (b.y - a.y)), bearing, next_at))
                next_at += step_m
            travelled += seg
        return out


class Context:
    """Admin units and places as shapely geometries, plus the anchor time of the demo."""

    def __init__(self, anchor: datetime) -> None:
        self.anchor = anchor
        ((province_id, province_wkb),) = fetch(
            "SELECT id, ST_AsBinary(geom) FROM layers_adminunit WHERE layer = 'province'"
        )
        self.province_id = province_id
        self.province = shapely.from_wkb(bytes(province_wkb))
        shapely.prepare(self.province)
        self.districts = [
            (code, name, kind, full_name, shapely.from_wkb(bytes(wkb)))
            for code, name, kind, full_name, wkb in fetch(
                "SELECT d.code, d.name, d.kind, d.full_name, ST_AsBinary(d.geom) "
                "FROM layers_adminunit d WHERE d.layer = 'districts_2024' ORDER BY d.code"
            )
        ]
        self.district_province = {
            code: parent
            for code, parent in fetch(
                "SELECT d.code, p.code FROM layers_adminunit d "
                "JOIN layers_adminunit p ON p.id = d.parent_id WHERE d.layer = 'districts_2024'"
            )
        }
        rows = fetch(
            "SELECT id, code, name, full_name, kind, coalesce(population, 0), "
            "coalesce(area_km2, 0), ST_AsBinary(geom) FROM layers_adminunit "
            "WHERE layer = 'communes' ORDER BY code"
        )
        geoms = [shapely.from_wkb(bytes(r[7])) for r in rows]
        tree = shapely.STRtree(geoms)
        self.communes: list[Commune] = []
        for i, row in enumerate(rows):
            zone = geoms[i].intersection(self.province)
            neighbours = [geoms[j] for j in tree.query(geoms[i], predicate="intersects") if j != i]
            if neighbours:
                zone = zone.difference(shapely.union_all(neighbours))
            inset = zone.buffer(-ZONE_INSET_DEG)
            zone = inset if inset.area > 0.25 * zone.area else zone.buffer(-ZONE_INSET_DEG / 10)
            shapely.prepare(zone)
            self.communes.append(Commune(*row[:7], geom=geoms[i], zone=zone))
        self.by_code = {c.code: c for c in self.communes}
        self.by_id = {c.id: c for c in self.communes}
        self._zone_tree = shapely.STRtree([c.zone for c in self.communes])
        self._attach_districts()
        self._attach_places()
        self._attach_predecessors()
        self.roads = self._roads()

    # --- lookups ---------------------------------------------------------------------------
    def commune_at(self, p: Point) -> Commune | None:
        for i in self._zone_tree.query(p, predicate="intersects"):
            return self.communes[int(i)]
        return None

    def district_of(self, p: Point) -> str:
        for code, _name, _kind, _full, geom in self.districts:
            if geom.covers(p):
                return code
        return ""

    # --- set-up ----------------------------------------------------------------------------
    def _attach_districts(self) -> None:
        for commune in self.communes:
            best = max(self.districts, key=lambda d: d[4].intersection(commune.zone).area)
            commune.district_code = best[0]
            commune.province_code = self.district_province.get(best[0], "")

    def _attach_places(self) -> None:
        self.towns: list[Place] = []
        order = {"city": 0, "town": 1, "village": 2}
        features = sorted(
            sources.osm_places(),
            key=lambda f: (order.get(f["properties"]["fclass"], 9), int(f["properties"]["osm_id"])),
        )
        seen: set[tuple[str, str]] = set()
        for feature in features:
            p = feature["properties"]
            if p["fclass"] not in order or not p.get("name"):
                continue
            if p["fclass"] == "village" and p["name"].isascii():
                continue  # 'Coue Zueuil', 'Tien Dien': transcriptions, not Vietnamese names
            point = Point(feature["geometry"]["coordinates"][:2])
            commune = self.commune_at(point)
            if commune is None or (commune.code, p["name"]) in seen:
                continue
            seen.add((commune.code, p["name"]))
            place = Place(p["name"], p["fclass"], p["osm_id"], point)
            if p["fclass"] == "village":
                commune.villages.append(place)
            else:
                commune.towns.append(place)
                self.towns.append(place)

    def _attach_predecessors(self) -> None:
        rows = fetch(
            "SELECT name, ST_AsBinary(geom) FROM layers_adminunit WHERE layer = 'communes_2009'"
        )
        old = [(sources.name_key(name), shapely.from_wkb(bytes(wkb))) for name, wkb in rows]
        tree = shapely.STRtree([g for _, g in old])
        for code, names in sources.predecessors().items():
            commune = self.by_code.get(code)
            if commune is None:
                continue
            candidates = [old[int(i)] for i in tree.query(commune.zone, predicate="intersects")]
            for full_name in names:
                _kind, name, _full = sources.split_kind(full_name)
                commune.old_labels[name] = full_name[0].lower() + full_name[1:]
                area = None
                matches = [g for key, g in candidates if key == sources.name_key(name)]
                if matches:
                    part = max(matches, key=lambda g: g.intersection(commune.zone).area)
                    part = part.intersection(commune.zone)
                    if not part.is_empty and part.area > 0:
                        area = part
                        shapely.prepare(area)
                commune.predecessors.append((name, area))

    def _roads(self) -> list[RoadLine]:
        inner = self.province.buffer(-0.00001)  # ≈ 1 m, so clipped ends are covered
        roads = []
        for road in sources.national_roads():
            geom = shapely.geometry.shape(road["geometry"])
            merged = shapely.line_merge(shapely.force_2d(geom))
            clipped = merged.intersection(inner)
            parts = [g for g in getattr(clipped, "geoms", [clipped]) if isinstance(g, LineString)]
            merged_parts = shapely.line_merge(shapely.MultiLineString(parts)) if parts else None
            pieces = (
                [g for g in getattr(merged_parts, "geoms", [merged_parts])] if merged_parts else []
            )
            pieces = [g for g in pieces if line_length_m(g) >= 300]
            pieces.sort(key=lambda g: (-line_length_m(g), g.coords[0]))
            for part, piece in enumerate(pieces):
                roads.append(RoadLine(road["gid"], part, road["ref"], road["name"], piece))
        return roads

    @cached_property
    def city(self) -> Place:
        """Thái Nguyên city centre (OSM), where the province's institutions are."""
        return self.town_named("Thái Nguyên", "city") or self.towns[0]

    def town_named(self, name: str, fclass: str | None = None) -> Place | None:
        for town in self.towns:
            if town.name == name and (fclass is None or town.fclass == fclass):
                return town
        return None

    # --- summaries -------------------------------------------------------------------------
    @cached_property
    def total_population(self) -> int:
        return sum(c.population for c in self.communes)

    def nearest_town(self, p: Point) -> tuple[Place | None, float]:
        best, best_d = None, float("inf")
        for town in self.towns:
            d = distance_m(p, town.point)
            if d < best_d:
                best, best_d = town, d
        return best, best_d
