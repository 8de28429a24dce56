"""National road segments with synthetic congestion, and synthetic traffic nodes on them."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

import shapely
from shapely.geometry import LineString, Point
from shapely.ops import nearest_points

from layers.demo import ACTOR, SEED, SYNTHETIC
from layers.demo.db import copy_rows, ewkt, fetch, present_keys, section_state
from layers.demo.geo import Commune, Context, RoadLine, distance_m, round_point

HOW_TO_FIX = (
    "Delete the demo rows (created_by = 'demo-loader') of {table} — and of the tables loaded "
    "after it — or use a fresh database, then run load_demo again."
)


def rng_for(section: str) -> random.Random:
    return random.Random(f"{SEED}:{section}")


# --- Road segments ----------------------------------------------------------------------------
@dataclass
class Segment:
    code: str
    name: str
    ref: str
    line: LineString
    commune: Commune | None
    speed_limit: int
    congestion: str
    average_speed: float | None
    congestion_minutes_ago: int


CONGESTION_WEIGHTS = {
    "city": {"free": 35, "light": 35, "moderate": 20, "heavy": 10},
    "town": {"free": 60, "light": 28, "moderate": 10, "heavy": 2},
    "rural": {"free": 82, "light": 15, "moderate": 3},
}
SPEED_FACTOR = {
    "free": (0.85, 1.0),
    "light": (0.65, 0.85),
    "moderate": (0.4, 0.65),
    "heavy": (0.12, 0.35),
}


def plan_segments(ctx: Context) -> list[Segment]:
    rng = rng_for("road_segments")
    numbers: dict[str, int] = {}
    segments = []
    for road in ctx.roads:
        for piece in road.split():
            numbers[road.ref] = numbers.get(road.ref, 0) + 1
            commune = ctx.commune_at(piece.interpolate(0.5, normalized=True))
            if commune is not None and commune.urban:
                setting, limit = ("city", 50) if commune.in_city else ("town", 60)
            else:
                setting, limit = "rural", 80
            weights = CONGESTION_WEIGHTS[setting]
            congestion = rng.choices(list(weights), list(weights.values()))[0]
            low, high = SPEED_FACTOR[congestion]
            speed = round(limit * rng.uniform(low, high), 1)
            where = f" – đoạn qua {commune.label}" if commune else ""
            segments.append(
                Segment(
                    code=f"{road.ref}-{numbers[road.ref]:03d}",
                    name=f"{road.name}{where}",
                    ref=road.ref,
                    line=piece,
                    commune=commune,
                    speed_limit=limit,
                    congestion=congestion,
                    average_speed=speed,
                    congestion_minutes_ago=rng.randint(1, 12),
                )
            )
    # The city has rush hours: make sure some of its segments are jammed right now.
    city = [s for s in segments if s.commune is not None and s.commune.in_city]
    for s in rng.sample(city, min(2, len(city))):
        s.congestion = "heavy"
        s.average_speed = round(s.speed_limit * rng.uniform(*SPEED_FACTOR["heavy"]), 1)
    return segments


SEGMENT_COLUMNS = (
    "code",
    "name",
    "road_ref",
    "road_class",
    "speed_limit_kmh",
    "congestion",
    "congestion_updated_at",
    "average_speed_kmh",
    "geom",
)


def load_segments(ctx: Context) -> tuple[int, str] | None:
    segments = plan_segments(ctx)
    if not section_state(
        "road segments",
        {s.code for s in segments},
        present_keys("layers_roadsegment", "code"),
        HOW_TO_FIX.format(table="layers_roadsegment"),
    ):
        return None
    copy_rows(
        "layers_roadsegment",
        SEGMENT_COLUMNS,
        (
            (
                s.code,
                s.name,
                s.ref,
                "national",
                s.speed_limit,
                s.congestion,
                ctx.anchor - timedelta(minutes=s.congestion_minutes_ago),
                s.average_speed,
                ewkt(s.line),
            )
            for s in segments
        ),
    )
    heavy = sum(1 for s in segments if s.congestion == "heavy")
    km = fetch(
        "SELECT round(sum(length_m) / 1000) FROM layers_roadsegment WHERE created_by = %s",
        [ACTOR],
    )[0][0]
    return len(segments), f"{len(ctx.roads)} road lines, {km} km, {heavy} heavy"


# --- Traffic nodes ----------------------------------------------------------------------------
@dataclass
class Node:
    code: str
    name: str
    kind: str
    point: Point
    commune: Commune
    road: RoadLine
    bearing: float  # local direction of the road
    status: str = "active"
    seen_seconds_ago: int = 30


def _on_road(ctx: Context, road: RoadLine, point: Point) -> tuple[Point, float] | None:
    """The road station nearest to ``point`` that lies in a commune zone, with its azimuth."""
    stations = road.stations(50.0)
    if not stations:
        return None
    ranked = sorted(stations, key=lambda s: distance_m(s[0], point))
    for p, bearing, _ in ranked[:40]:
        if ctx.commune_at(p) is not None:
            return round_point(p), bearing
    return None


def entry_points(ctx: Context) -> list[tuple[RoadLine, Point, float]]:
    """Where national roads enter the province: (road, point ~300 m inside, bearing outwards)."""
    boundary = ctx.province.boundary
    candidates = []
    for road in ctx.roads:
        stations = road.stations(100.0)
        if len(stations) < 6:
            continue
        for end, inward in ((0, stations), (1, stations[::-1])):
            tip = Point(road.line.coords[-1 if end else 0])
            if distance_m(tip, nearest_points(boundary, tip)[0]) > 1500:
                continue
            for p, bearing, _ in inward[3:15]:
                if ctx.commune_at(p) is not None:
                    outward = bearing if end else (bearing + 180) % 360
                    candidates.append((road, round_point(p), outward))
                    break
    if not candidates:
        return []
    # The southernmost gateway (from Hà Nội) first, then the farthest from those chosen.
    chosen = [min(candidates, key=lambda c: c[1].y)]
    while len(chosen) < 3 and len(chosen) < len(candidates):
        chosen.append(
            max(
                (c for c in candidates if c not in chosen),
                key=lambda c: min(distance_m(c[1], o[1]) for o in chosen),
            )
        )
    return chosen


def plan_nodes(ctx: Context) -> list[Node]:
    """The traffic nodes (computed once per context: the cameras section reuses them)."""
    cached = ctx.__dict__.get("_traffic_nodes")
    if cached is None:
        cached = ctx.__dict__["_traffic_nodes"] = _plan_nodes(ctx)
    return cached


def _plan_nodes(ctx: Context) -> list[Node]:
    rng = rng_for("traffic_nodes")
    nodes: list[Node] = []

    def add(kind: str, name: str, road: RoadLine, p: Point, bearing: float) -> None:
        commune = ctx.commune_at(p)
        if commune is None:
            return
        if any(distance_m(p, n.point) < 150 for n in nodes):
            return
        nodes.append(Node("", name, kind, p, commune, road, bearing))

    # Where national roads of different numbers meet.
    for i, a in enumerate(ctx.roads):
        for b in ctx.roads[i + 1 :]:
            if a.ref == b.ref or a.line.distance(b.line) > 0.0006:
                continue
            pa, _ = nearest_points(a.line, b.line)
            found = _on_road(ctx, a, pa)
            if found:
                refs = " – ".join(sorted({a.ref, b.ref}, key=lambda r: (len(r), r)))
                commune = ctx.commune_at(found[0])
                add("intersection", f"Nút giao {refs}, {commune.label}", a, *found)
    # Town centres on a national road: a crossroads, and a few signals
    # along the road through the town (many more through the city's wards).
    for town in ctx.towns:
        best = min(ctx.roads, key=lambda r: r.line.distance(town.point))
        if distance_m(town.point, nearest_points(best.line, town.point)[0]) > 1500:
            continue
        found = _on_road(ctx, best, town.point)
        if found:
            add("intersection", f"Nút giao trung tâm {town.name} ({best.ref})", best, *found)
        reach, share = (3000, 0.7) if town.fclass == "city" else (1200, 0.5)
        for road in ctx.roads:
            for p, bearing, _ in road.stations(500.0):
                commune = ctx.commune_at(p)
                if commune and distance_m(p, town.point) < reach and rng.random() < share:
                    add(
                        "signal",
                        f"Đèn tín hiệu {road.ref}, {commune.label}",
                        road,
                        round_point(p),
                        bearing,
                    )
    # Traffic counters on open road, about every 15 km.
    for road in ctx.roads:
        for p, bearing, _ in road.stations(15_000.0):
            _town, d = ctx.nearest_town(p)
            commune = ctx.commune_at(p)
            if commune and d > 3000:
                add(
                    "counter",
                    f"Trạm đếm xe {road.ref}, {commune.label}",
                    road,
                    round_point(p),
                    bearing,
                )
    # Exactly three licence-plate cameras, at the gateways into the province.
    gateways = entry_points(ctx)
    if len(gateways) != 3:
        raise RuntimeError(f"found {len(gateways)} road gateways into the province, need 3")
    for road, p, outward in gateways:
        commune = ctx.commune_at(p)
        nodes = [n for n in nodes if distance_m(n.point, p) >= 150]
        nodes.append(
            Node(
                "",
                f"Camera nhận dạng biển số cửa ngõ {road.ref}, {commune.label}",
                "lpr_camera",
                p,
                commune,
                road,
                outward,
            )
        )
    nodes.sort(
        key=lambda n: (
            {"lpr_camera": 0, "intersection": 1, "signal": 2}.get(n.kind, 3),
            -n.point.y,
            n.point.x,
        )
    )
    for i, node in enumerate(nodes, start=1):
        node.code = f"TRF-{i:04d}"
        node.name = f"{node.name} {SYNTHETIC}"
        if node.kind != "lpr_camera":
            node.status = rng.choices(["active", "fault", "maintenance", "offline"], [90, 4, 3, 3])[
                0
            ]
        node.seen_seconds_ago = {
            "active": rng.randint(5, 300),
            "fault": rng.randint(1800, 36_000),
            "maintenance": rng.randint(86_400, 6 * 86_400),
            "offline": rng.randint(7200, 3 * 86_400),
        }[node.status]
    return nodes


NODE_COLUMNS = ("code", "name", "kind", "status", "road_id", "last_seen_at", "geom")


def load_nodes(ctx: Context) -> tuple[int, str] | None:
    nodes = plan_nodes(ctx)
    if not section_state(
        "traffic nodes",
        {n.code for n in nodes},
        present_keys("layers_trafficnode", "code"),
        HOW_TO_FIX.format(table="layers_trafficnode"),
    ):
        return None
    # Each node's road is the nearest national road segment (already loaded).
    segments = [
        (seg_id, shapely.from_wkb(bytes(wkb)))
        for seg_id, wkb in fetch("SELECT id, ST_AsBinary(geom) FROM layers_roadsegment ORDER BY id")
    ]
    tree = shapely.STRtree([g for _, g in segments]) if segments else None

    def nearest_road(p: Point) -> int | None:
        return segments[int(tree.nearest(p))][0] if tree is not None else None

    copy_rows(
        "layers_trafficnode",
        NODE_COLUMNS,
        (
            (
                n.code,
                n.name,
                n.kind,
                n.status,
                nearest_road(n.point),
                ctx.anchor - timedelta(seconds=n.seen_seconds_ago),
                ewkt(n.point),
            )
            for n in nodes
        ),
    )
    kinds: dict[str, int] = {}
    for n in nodes:
        kinds[n.kind] = kinds.get(n.kind, 0) + 1
    return len(nodes), ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
