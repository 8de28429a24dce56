"""Synthetic cameras of the IOC camera platform (the real one reported 409 cameras)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

from shapely.geometry import Point

from layers.demo import SYNTHETIC
from layers.demo.db import copy_rows, ewkt, present_keys, section_state
from layers.demo.geo import Commune, Context, distance_m, offset, round_point
from layers.demo.traffic import HOW_TO_FIX, plan_nodes, rng_for

TOTAL = 409
ANPR = 3
SECURITY = 7
TRAFFIC = 150
HOST = "https://camera.ioc.thainguyen.gov.vn"

# Horizontal field of view (°) and range (m) by camera kind.
FOV = {"ptz": (60, 90), "dome": (90, 110), "bullet": (40, 70), "fixed": (60, 90)}
RANGE = {"ptz": (150, 250), "dome": (30, 70), "bullet": (60, 160), "fixed": (40, 120)}
KINDS = {
    "traffic": {"bullet": 45, "ptz": 35, "fixed": 20},
    "surveillance": {"dome": 40, "ptz": 25, "bullet": 20, "fixed": 15},
    "security": {"dome": 50, "ptz": 50},
    "anpr": {"bullet": 100},
}
POLICE = "Công an tỉnh Thái Nguyên"
TRAFFIC_POLICE = "Phòng Cảnh sát giao thông – Công an tỉnh Thái Nguyên"
CONSTRUCTION = "Sở Xây dựng tỉnh Thái Nguyên"
SECURITY_SITES = (
    "Khu trung tâm hành chính tỉnh – cổng chính",
    "Khu trung tâm hành chính tỉnh – cổng phụ",
    "Trụ sở Trung tâm Điều hành thông minh (IOC)",
    "Khu vực kho lưu trữ hồ sơ tỉnh",
    "Trụ sở tiếp công dân tỉnh",
    "Trung tâm hành chính khu vực Bắc Kạn – cổng chính",
    "Trung tâm hành chính khu vực Bắc Kạn – sân trong",
)


@dataclass
class PlannedCamera:
    purpose: str
    point: Point
    bearing: float
    name: str
    address: str
    agency: str
    access_level: str = "internal"
    kind: str = ""
    code: str = ""


def _weighted_communes(ctx: Context) -> list[tuple[Commune, float]]:
    """Surveillance density: population, ×3 in wards, ×1.5 in the old district towns."""
    out = []
    for c in ctx.communes:
        w = c.population * (3.0 if c.urban else 1.0) * (1.5 if c.towns else 1.0)
        out.append((c, w))
    return out


def plan_cameras(ctx: Context) -> list[PlannedCamera]:
    rng = rng_for("cameras")
    cams: list[PlannedCamera] = []
    nodes = plan_nodes(ctx)

    # Licence-plate cameras at the three gateways, looking out at incoming traffic.
    for node in (n for n in nodes if n.kind == "lpr_camera"):
        p = round_point(offset(node.point, 7, (node.bearing + 90) % 360))
        if not node.commune.contains(p):
            p = node.point
        cams.append(
            PlannedCamera(
                "anpr",
                p,
                node.bearing,
                f"Camera biển số cửa ngõ {node.road.ref} – {node.commune.label}",
                f"{node.road.name}, {node.commune.label}, tỉnh Thái Nguyên {SYNTHETIC}",
                TRAFFIC_POLICE,
            )
        )
    # Security cameras at government sites: five in the city centre, two in Bắc Kạn.
    city = ctx.city
    bac_kan = ctx.town_named("Bắc Kạn") or city
    for i, site in enumerate(SECURITY_SITES):
        town = city if i < 5 else bac_kan
        commune = ctx.commune_at(town.point)
        p = commune.sample(rng, town.point, 350)
        commune = ctx.commune_at(p)
        cams.append(
            PlannedCamera(
                "security",
                p,
                round(rng.uniform(0, 359.9), 1),
                f"Camera an ninh – {site}",
                f"{site}, {commune.label}, tỉnh Thái Nguyên {SYNTHETIC}",
                POLICE,
                "restricted",
            )
        )
    # Traffic cameras: one or two at every intersection and signal, the rest along the roads,
    # denser near towns; each looks along the road.
    for node in nodes:
        if node.kind not in ("intersection", "signal"):
            continue
        count = 2 if node.kind == "intersection" else 1
        for k in range(count):
            look = (node.bearing + 180 * k + (180 if rng.random() < 0.5 else 0)) % 360
            p = round_point(offset(node.point, rng.uniform(8, 25), (look + 90) % 360))
            if not node.commune.contains(p):
                p = node.point
            label = node.name.replace(f" {SYNTHETIC}", "")
            cams.append(
                PlannedCamera(
                    "traffic",
                    p,
                    round(look, 1),
                    f"Camera giao thông – {label}",
                    f"{node.road.name}, {node.commune.label}, tỉnh Thái Nguyên {SYNTHETIC}",
                    TRAFFIC_POLICE if rng.random() < 0.6 else CONSTRUCTION,
                )
            )
    stations = []
    for road in ctx.roads:
        for p, bearing, _ in road.stations(400.0):
            commune = ctx.commune_at(p)
            if commune is None:
                continue
            _town, d = ctx.nearest_town(p)
            weight = 1.0 + 12.0 * math.exp(-((d / 2500.0) ** 2)) + (3.0 if commune.urban else 0)
            stations.append((weight, p, bearing, road, commune))
    taken: list[Point] = [c.point for c in cams]
    want = TRAFFIC - sum(1 for c in cams if c.purpose == "traffic")
    while want > 0 and stations:
        i = rng.choices(range(len(stations)), [s[0] for s in stations])[0]
        _w, p, bearing, road, commune = stations.pop(i)
        if any(distance_m(p, q) < 120 for q in taken):
            continue
        look = (bearing + (180 if rng.random() < 0.5 else 0)) % 360
        q = round_point(offset(p, rng.uniform(6, 15), (bearing + 90) % 360))
        if not commune.contains(q):
            continue
        cams.append(
            PlannedCamera(
                "traffic",
                q,
                round(look, 1),
                f"Camera giao thông {road.ref} – {commune.label}",
                f"{road.name}, {commune.label}, tỉnh Thái Nguyên {SYNTHETIC}",
                TRAFFIC_POLICE if rng.random() < 0.6 else CONSTRUCTION,
            )
        )
        taken.append(q)
        want -= 1
    # Public-order cameras: one at every commune centre, the rest where people live.
    weighted = _weighted_communes(ctx)
    picks = [c for c in ctx.communes]
    remaining = TOTAL - len(cams) - len(picks)
    picks += rng.choices([c for c, _ in weighted], [w for _, w in weighted], k=remaining)
    for n, commune in enumerate(picks):
        at_centre = n < len(ctx.communes)
        if at_centre:
            p = commune.sample(rng, commune.center, 60)
            where = f"trung tâm {commune.label}"
        else:
            anchors = [commune.center] + [v.point for v in commune.villages]
            anchor = rng.choice(anchors)
            p = commune.sample(rng, anchor, 600 if commune.urban else 1200)
            if commune.villages and anchor != commune.center:
                village = next(v for v in commune.villages if v.point == anchor)
                where = f"{commune.hamlet_word} {village.name}, {commune.label}"
            else:
                where = f"{commune.hamlet_word} {rng.randint(1, 25)}, {commune.label}"
        agency = f"UBND {commune.label}" if rng.random() < 0.7 else f"Công an {commune.label}"
        cams.append(
            PlannedCamera(
                "surveillance",
                p,
                round(rng.uniform(0, 359.9), 1),
                f"Camera an ninh trật tự – {where}",
                f"{where}, tỉnh Thái Nguyên {SYNTHETIC}",
                agency,
                "public" if at_centre and rng.random() < 0.15 else "internal",
            )
        )
    for i, cam in enumerate(cams, start=1):
        cam.code = f"CAM-{i:04d}"
        kinds = KINDS[cam.purpose]
        cam.kind = rng.choices(list(kinds), list(kinds.values()))[0]
    return cams


CAMERA_COLUMNS = (
    "code",
    "name",
    "kind",
    "purpose",
    "geom",
    "bearing",
    "fov_angle",
    "range_m",
    "status",
    "last_seen_at",
    "stream_url",
    "snapshot_url",
    "agency",
    "access_level",
    "address",
    "installed_on",
)


def camera_rows(ctx: Context, cams: list[PlannedCamera]):
    rng = rng_for("camera_status")
    first_install = date(2020, 9, 1)
    last_install = ctx.anchor.date() - timedelta(days=30)
    span = max(1, (last_install - first_install).days)
    for cam in cams:
        status = rng.choices(["online", "offline", "maintenance"], [85, 10, 5])[0]
        seconds = {
            "online": rng.randint(2, 90),
            "offline": rng.randint(1800, 4 * 86_400),
            "maintenance": rng.randint(86_400, 10 * 86_400),
        }[status]
        yield (
            cam.code,
            cam.name[:200],
            cam.kind,
            cam.purpose,
            ewkt(cam.point),
            cam.bearing,
            float(rng.randint(*FOV[cam.kind])),
            float(rng.randrange(*RANGE[cam.kind], 5)),
            status,
            ctx.anchor - timedelta(seconds=seconds),
            f"{HOST}/hls/{cam.code}/index.m3u8",
            f"{HOST}/snapshot/{cam.code}.jpg",
            cam.agency,
            cam.access_level,
            cam.address[:300],
            first_install + timedelta(days=rng.randrange(span)),
        )


def load_cameras(ctx: Context) -> tuple[int, str] | None:
    cams = plan_cameras(ctx)
    if not section_state(
        "cameras",
        {c.code for c in cams},
        present_keys("layers_camera", "code"),
        HOW_TO_FIX.format(table="layers_camera"),
    ):
        return None
    copy_rows("layers_camera", CAMERA_COLUMNS, camera_rows(ctx, cams))
    by = {}
    for c in cams:
        by[c.purpose] = by.get(c.purpose, 0) + 1
    return len(cams), ", ".join(f"{k} {v}" for k, v in sorted(by.items()))
