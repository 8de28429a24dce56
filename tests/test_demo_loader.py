"""The Thái Nguyên demo data (``load_demo``), loaded once per session by conftest.py."""

from __future__ import annotations

import re
import stat
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count

from layers.demo import SYNTHETIC, sources
from layers.models import (
    AdminUnit,
    Camera,
    CommuneCrosswalk,
    FeatureHistory,
    FieldReport,
    FieldReportStatusChange,
    HealthFacility,
    RoadSegment,
    School,
    TrafficNode,
)

pytestmark = pytest.mark.django_db
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")


def scalar(sql: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def rows(sql: str, params=None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def all_counts() -> dict[str, int]:
    models = (
        AdminUnit,
        CommuneCrosswalk,
        Camera,
        School,
        HealthFacility,
        RoadSegment,
        TrafficNode,
        FieldReport,
        FieldReportStatusChange,
        FeatureHistory,
        User,
    )
    return {m.__name__: m.objects.count() for m in models}


# --- Administrative units ---------------------------------------------------------------------
def test_layer_counts():
    counts = dict(
        AdminUnit.objects.exclude(layer=None).values_list("layer").annotate(n=Count("id"))
    )
    assert counts == {"province": 1, "communes": 92, "districts_2024": 17, "communes_2009": 303}
    assert AdminUnit.objects.filter(level="province", generation="2024").count() == 2


def test_province_and_communes_2025():
    province = AdminUnit.objects.get(layer="province")
    assert (province.code, province.population, str(province.valid_from)) == (
        "19",
        1_799_489,
        "2025-07-01",
    )
    assert province.area_km2 == pytest.approx(8375.27)
    communes = AdminUnit.objects.filter(layer="communes")
    assert set(communes.values_list("parent_id", flat=True)) == {province.id}
    assert dict(communes.values_list("kind").annotate(n=Count("id"))) == {"phuong": 15, "xa": 77}
    assert sum(communes.values_list("population", flat=True)) == 1_799_489
    an_khanh = communes.get(code="05809")
    assert (an_khanh.name, an_khanh.full_name, an_khanh.kind) == ("An Khánh", "Xã An Khánh", "xa")
    assert an_khanh.geom.geom_type == "MultiPolygon" and an_khanh.geom.srid == 4326


def test_districts_and_communes_2009():
    districts = AdminUnit.objects.filter(layer="districts_2024")
    bac_kan = districts.get(code="058")
    assert (bac_kan.name, bac_kan.full_name, bac_kan.kind) == (
        "Bắc Kạn",
        "Thành phố Bắc Kạn",
        "thanh_pho",
    )
    assert bac_kan.parent.code == "06" and bac_kan.parent.generation == "2024"
    assert str(bac_kan.valid_to) == "2025-06-30"
    assert dict(districts.values_list("kind").annotate(n=Count("id"))) == {
        "thanh_pho": 4,
        "huyen": 13,
    }
    # Every 2009 commune hangs under a 2024 district; district population = its communes'.
    assert not AdminUnit.objects.filter(layer="communes_2009", parent=None).exists()
    assert (
        scalar(
            "SELECT count(*) FROM layers_adminunit d WHERE d.layer = 'districts_2024' AND "
            "d.population IS DISTINCT FROM (SELECT sum(c.population) FROM layers_adminunit c "
            "WHERE c.parent_id = d.id) "
        )
        == 0
    )
    trung_vuong = AdminUnit.objects.get(layer="communes_2009", code="2150101")
    assert (trung_vuong.name, trung_vuong.kind, trung_vuong.code_is_official) == (
        "Trưng Vương",
        "phuong",
        False,
    )
    assert trung_vuong.parent.code == "164" and trung_vuong.population_year == 2009
    # 2009's "Thị xã Sông Công" is 2024's "Thành phố Sông Công".
    assert AdminUnit.objects.get(layer="communes_2009", code="2150311").parent.code == "165"
    assert AdminUnit.objects.get(layer="communes_2009", code="2150311").population is None
    kinds = dict(
        AdminUnit.objects.filter(layer="communes_2009").values_list("kind").annotate(n=Count("id"))
    )
    assert kinds == {"xa": 255, "phuong": 29, "thi_tran": 19}


def test_crosswalk_covers_old_and_new_communes():
    new_units = set(CommuneCrosswalk.objects.values_list("new_unit__code", flat=True).distinct())
    assert len(new_units) == 92
    old = set(CommuneCrosswalk.objects.values_list("old_code", flat=True))
    assert set(sources.gso_communes_2025_03()) <= old
    assert CommuneCrosswalk.objects.count() == 283
    assert CommuneCrosswalk.objects.filter(merge_type="partial").count() == 6
    assert not CommuneCrosswalk.objects.exclude(new_unit__layer="communes").exists()
    linked = CommuneCrosswalk.objects.exclude(old_district=None)
    assert linked.count() == 283
    assert not linked.exclude(old_district__layer="districts_2024").exists()
    row = CommuneCrosswalk.objects.get(old_code="01834")
    assert (row.old_district_code, row.old_district_name, row.old_province_code) == (
        "058",
        "Thành phố Bắc Kạn",
        "06",
    )


# --- Synthetic objects ------------------------------------------------------------------------
POINT_TABLES = (
    "layers_camera",
    "layers_school",
    "layers_healthfacility",
    "layers_trafficnode",
    "layers_fieldreport",
)


@pytest.mark.parametrize("table", POINT_TABLES)
def test_points_inside_province_with_commune(table):
    assert scalar(f'SELECT count(*) FROM "{table}"') > 0
    outside = scalar(
        f'SELECT count(*) FROM "{table}" t, layers_adminunit p WHERE p.layer = %s '
        "AND (NOT ST_Covers(p.geom, t.geom) OR t.commune_id IS NULL)",
        ["province"],
    )
    assert outside == 0
    # ... and inside that commune's polygon.
    assert (
        scalar(
            f'SELECT count(*) FROM "{table}" t JOIN layers_adminunit c ON c.id = t.commune_id '
            "WHERE NOT ST_Intersects(c.geom, t.geom) OR c.layer <> 'communes'"
        )
        == 0
    )


def test_roads_inside_province():
    assert (
        scalar(
            "SELECT count(*) FROM layers_roadsegment t, layers_adminunit p "
            "WHERE p.layer = 'province' AND NOT ST_Covers(p.geom, t.geom)"
        )
        == 0
    )


def test_cameras():
    assert 380 <= Camera.objects.count() <= 420
    assert Camera.objects.filter(purpose="anpr").count() == 3
    security = Camera.objects.filter(purpose="security")
    assert security.count() == 7
    assert set(security.values_list("access_level", flat=True)) == {"restricted"}
    assert not Camera.objects.filter(fov=None).exists()
    statuses = dict(Camera.objects.values_list("status").annotate(n=Count("id")))
    assert statuses["online"] / Camera.objects.count() > 0.75
    assert statuses.get("offline") and statuses.get("maintenance")
    assert (
        scalar(
            "SELECT count(*) FROM layers_camera WHERE range_m < 30 OR range_m > 250 "
            "OR ST_GeometryType(fov) <> 'ST_Polygon'"
        )
        == 0
    )
    cam = Camera.objects.get(code="CAM-0001")
    assert cam.stream_url == "https://camera.ioc.thainguyen.gov.vn/hls/CAM-0001/index.m3u8"
    assert not Camera.objects.exclude(address__endswith=SYNTHETIC).exists()


def test_health_station_in_every_commune():
    stations = HealthFacility.objects.filter(kind="health_station")
    assert stations.count() == 92
    assert (
        scalar(
            "SELECT count(*) FROM layers_adminunit c WHERE c.layer = 'communes' AND NOT EXISTS "
            "(SELECT 1 FROM layers_healthfacility h WHERE h.kind = 'health_station' "
            "AND h.commune_id = c.id)"
        )
        == 0
    )
    assert stations.get(code="TYT-05809").name == "Trạm y tế xã An Khánh"
    assert HealthFacility.objects.filter(kind="medical_center").count() == 17
    osm = HealthFacility.objects.exclude(osm_id="")
    assert "Bệnh viện Đa khoa Trung Ương Thái Nguyên" in set(osm.values_list("name", flat=True))
    assert (
        not HealthFacility.objects.filter(osm_id="").exclude(address__endswith=SYNTHETIC).exists()
    )


def test_schools():
    per_commune = rows(
        "SELECT c.code, count(*) FILTER (WHERE s.level = 'mam_non'), "
        "count(*) FILTER (WHERE s.level = 'tieu_hoc'), count(*) FILTER (WHERE s.level = 'thcs') "
        "FROM layers_adminunit c LEFT JOIN layers_school s ON s.commune_id = c.id "
        "WHERE c.layer = 'communes' GROUP BY c.code"
    )
    assert len(per_commune) == 92
    assert all(min(counts) >= 1 for _code, *counts in per_commune)
    assert School.objects.filter(level="thpt").count() >= 40
    assert School.objects.filter(ownership="private").exists()
    osm = School.objects.exclude(osm_id="")
    assert set(osm.values_list("name", flat=True)) >= {"Trường Đại học Sư phạm Thái Nguyên"}
    assert not osm.filter(osm_id="5074649622").exists()  # a house tagged as a school
    assert not School.objects.filter(osm_id="", pupils=None).exists()


def test_roads_and_traffic_nodes():
    segments = RoadSegment.objects.all()
    assert segments.count() > 40
    assert set(segments.values_list("road_class", flat=True)) <= {"national", "expressway"}
    assert {"QL3", "QL37", "QL1B", "QL34"} <= set(segments.values_list("road_ref", flat=True))
    assert scalar("SELECT max(length_m) FROM layers_roadsegment") < 5200
    assert segments.filter(congestion="heavy").exists()
    assert segments.filter(congestion="free").count() > segments.count() / 2
    assert not segments.filter(congestion_updated_at=None).exists()
    nodes = TrafficNode.objects.all()
    assert nodes.filter(kind="lpr_camera").count() == 3
    assert {"intersection", "signal", "counter"} <= set(nodes.values_list("kind", flat=True))
    assert not nodes.filter(road=None).exists()
    assert nodes.filter(status="active").count() / nodes.count() > 0.8


def test_field_reports_span_and_volume():
    first, last = FieldReport.objects.order_by("submitted_at").values_list(
        "submitted_at", flat=True
    )[:: FieldReport.objects.count() - 1]
    assert timedelta(days=88) < last - first <= timedelta(days=90)
    per_day = rows(
        "SELECT count(*) FROM layers_fieldreport "
        "GROUP BY (submitted_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date"
    )
    assert 88 <= len(per_day) <= 90
    assert 15 <= sum(n for (n,) in per_day) / len(per_day) <= 30
    codes = FieldReport.objects.values_list("tracking_code", "submitted_at")
    for code, submitted in codes:
        assert re.fullmatch(r"PA-\d{6}-\d{6}", code)
        assert code[3:9] == submitted.astimezone(LOCAL).strftime("%y%m%d")


def test_field_report_status_histories():
    # First row '' → 'new' at submission; last to_status = the report's status.
    assert (
        scalar(
            "SELECT count(*) FROM layers_fieldreport r WHERE NOT EXISTS (SELECT 1 FROM "
            "(SELECT s.from_status, s.to_status, s.changed_at FROM layers_fieldreportstatuschange "
            "s "
            " WHERE s.report_id = r.id ORDER BY s.changed_at, s.id LIMIT 1) f "
            "WHERE f.from_status = '' AND f.to_status = 'new' AND f.changed_at = r.submitted_at)"
        )
        == 0
    )
    assert (
        scalar(
            "SELECT count(*) FROM layers_fieldreport r WHERE r.status IS DISTINCT FROM "
            "(SELECT s.to_status FROM layers_fieldreportstatuschange s WHERE s.report_id = r.id "
            " ORDER BY s.changed_at DESC, s.id DESC LIMIT 1)"
        )
        == 0
    )
    # Each step starts where the previous one ended.
    assert (
        scalar(
            "SELECT count(*) FROM (SELECT from_status, lag(to_status) OVER w AS prev "
            "FROM layers_fieldreportstatuschange WINDOW w AS (PARTITION BY report_id "
            "ORDER BY changed_at, id)) s WHERE prev IS NOT NULL AND prev <> from_status"
        )
        == 0
    )
    assert FieldReportStatusChange.objects.count() > 3 * FieldReport.objects.count()


def test_field_report_status_matches_age():
    latest = FieldReport.objects.order_by("-submitted_at").first().submitted_at
    old = FieldReport.objects.filter(submitted_at__lt=latest - timedelta(days=30))
    done = old.filter(status__in=("closed", "resolved", "rejected")).count()
    assert done / old.count() > 0.95
    assert old.filter(status="rejected").exists()
    recent = FieldReport.objects.filter(submitted_at__gt=latest - timedelta(days=2))
    assert recent.filter(status__in=FieldReport.OPEN_STATUSES).count() / recent.count() > 0.5
    overdue = FieldReport.objects.filter(
        status__in=FieldReport.OPEN_STATUSES, due_at__lt=latest
    ).count()
    assert 1 <= overdue <= 60
    assert not FieldReport.objects.filter(
        status__in=("resolved", "closed"), resolved_at=None
    ).exists()
    assert FieldReport.objects.exclude(reporter_name="").exists()
    assert FieldReport.objects.filter(reporter_name="").exists()


# --- Accounts ---------------------------------------------------------------------------------
def test_demo_users_and_groups():
    from layers.demo.accounts import password_file

    admin = User.objects.get(username="admin")
    assert admin.is_superuser
    operator = User.objects.get(username="operator")
    editor = User.objects.get(username="editor")
    assert operator.is_staff and editor.is_staff
    assert list(operator.groups.values_list("name", flat=True)) == ["Vận hành IOC"]
    assert list(editor.groups.values_list("name", flat=True)) == ["Biên tập GIS"]
    assert operator.has_perm("layers.view_cameras")
    assert operator.has_perm("layers.view_private_cameras")
    assert operator.has_perm("layers.view_private_field_reports")
    assert operator.has_perm("layers.change_field_reports")
    assert not operator.has_perm("layers.change_cameras")
    assert editor.has_perm("layers.change_cameras") and editor.has_perm("layers.change_province")
    assert editor.has_perm("layers.view_private_cameras")
    path = password_file("operator")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert operator.check_password(path.read_text().strip())


# --- Idempotence and determinism --------------------------------------------------------------
def test_second_load_changes_nothing():
    before = all_counts()
    last_history = FeatureHistory.objects.order_by("-id").values_list("id", flat=True).first()
    call_command("load_demo", verbosity=0)
    assert all_counts() == before
    assert FeatureHistory.objects.order_by("-id").values_list("id", flat=True).first() == (
        last_history
    )


def test_half_loaded_section_is_an_error():
    Camera.objects.filter(code="CAM-0100").delete()
    with pytest.raises(CommandError, match="cameras: the demo data is only partly present"):
        call_command("load_demo", verbosity=0)


def test_plans_are_deterministic():
    from layers.demo.cameras import plan_cameras
    from layers.demo.field_reports import plan_reports
    from layers.demo.geo import Context
    from layers.demo.loader import anchor_time

    def snapshot():
        ctx = Context(anchor_time())
        cams = [(c.code, c.point.wkt, c.bearing, c.name) for c in plan_cameras(ctx)]
        reports = [
            (
                r.tracking_code,
                r.point.wkt,
                r.status,
                r.title,
                [(s.to_status, s.at) for s in r.steps],
            )
            for r in plan_reports(ctx)
        ]
        return cams, reports

    first = snapshot()
    assert first == snapshot()
    # ... and what is in the database is what the plan says.
    cams, reports = first
    db_cams = {c.code: (round(c.geom.x, 7), round(c.geom.y, 7)) for c in Camera.objects.all()}
    assert len(db_cams) == len(cams)
    assert db_cams["CAM-0001"] == pytest.approx(
        tuple(float(v) for v in cams[0][1].removeprefix("POINT (").rstrip(")").split())
    )
    assert set(FieldReport.objects.values_list("tracking_code", flat=True)) == {
        r[0] for r in reports
    }
