"""Model validation and the derived attributes computed by the database."""

import math

import pytest
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon, Point, Polygon
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from layers import services
from layers.models import AdminUnit, Camera, FieldReport, School

pytestmark = pytest.mark.django_db

CENTRE = Point(105.8442, 21.5928, srid=4326)  # Thái Nguyên city centre


def camera_data(**overrides):
    data = {
        "code": "T-CAM-1",
        "name": "Camera thử nghiệm",
        "purpose": "traffic",
        "bearing": 90,
        "fov_angle": 60,
        "range_m": 100,
        "agency": "Công an tỉnh Thái Nguyên",
    }
    data.update(overrides)
    return data


def area_m2(table: str, column: str, pk: int) -> float:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT ST_Area("{column}"::geography) FROM "{table}" WHERE id = %s', [pk])
        return cursor.fetchone()[0]


class TestCameraFieldOfView:
    def test_sector_shape_and_area(self):
        cam = services.do_create_feature("cameras", camera_data(), CENTRE, actor="test")
        expected = math.pi * 100**2 * 60 / 360  # 5236 m²
        assert area_m2("layers_camera", "fov", cam.pk) == pytest.approx(expected, rel=0.01)
        # A closed fan: starts and ends at the camera, and every vertex lies within range.
        ring = cam.fov.exterior_ring
        assert ring[0] == pytest.approx((CENTRE.x, CENTRE.y))
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT max(ST_Distance((dp).geom::geography, %s::geography)) "
                "FROM (SELECT ST_DumpPoints(fov) AS dp FROM layers_camera WHERE id = %s) AS s",
                [CENTRE.ewkt, cam.pk],
            )
            assert cursor.fetchone()[0] == pytest.approx(100, abs=0.5)

    def test_bearing_points_the_sector(self):
        east = services.do_create_feature("cameras", camera_data(bearing=90), CENTRE, actor="t")
        north = services.do_create_feature(
            "cameras", camera_data(code="T-CAM-2", bearing=0), CENTRE, actor="t"
        )
        assert east.fov.centroid.x > CENTRE.x
        assert abs(east.fov.centroid.y - CENTRE.y) < 1e-5
        assert north.fov.centroid.y > CENTRE.y
        assert abs(north.fov.centroid.x - CENTRE.x) < 1e-5

    def test_full_circle_for_360_degrees(self):
        cam = services.do_create_feature(
            "cameras", camera_data(kind="ptz", fov_angle=360, range_m=50), CENTRE, actor="t"
        )
        assert area_m2("layers_camera", "fov", cam.pk) == pytest.approx(math.pi * 50**2, rel=0.01)

    def test_fov_follows_edits_from_any_client(self):
        cam = services.do_create_feature("cameras", camera_data(), CENTRE, actor="t")
        with connection.cursor() as cursor:  # plain SQL, like QGIS on PostGIS
            cursor.execute("UPDATE layers_camera SET range_m = 200 WHERE id = %s", [cam.pk])
        assert area_m2("layers_camera", "fov", cam.pk) == pytest.approx(
            math.pi * 200**2 / 6, rel=0.01
        )

    def test_fov_cannot_be_typed_by_hand(self):
        cam = services.do_create_feature("cameras", camera_data(), CENTRE, actor="t")
        square = Polygon.from_bbox((105, 21, 106, 22))
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE layers_camera SET fov = ST_GeomFromEWKT(%s) WHERE id = %s",
                [f"SRID=4326;{square.wkt}", cam.pk],
            )
        assert area_m2("layers_camera", "fov", cam.pk) == pytest.approx(5236, rel=0.01)
        with pytest.raises(services.InvalidFeature):
            services.do_update_feature(
                "cameras", cam.pk, {"fov": square}, expected_version=None, actor="t"
            )


class TestCommuneLookup:
    def test_point_gets_its_2025_commune(self):
        school = services.do_create_feature(
            "schools",
            {"code": "T-SCH-1", "name": "Trường thử", "level": "thcs"},
            CENTRE,
            actor="t",
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM layers_adminunit WHERE layer = 'communes' "
                "AND ST_Covers(geom, %s::geometry)",
                [CENTRE.ewkt],
            )
            expected = cursor.fetchone()[0]
        assert school.commune_id == expected
        assert AdminUnit.objects.get(pk=expected).layer == "communes"

    def test_moving_a_point_moves_its_commune(self):
        report = services.do_create_feature(
            "field_reports",
            {"category": "waste", "title": "Rác", "description": "Rác tồn đọng"},
            CENTRE,
            actor="t",
        )
        far = Point(105.83, 22.15, srid=4326)  # Bắc Kạn ward, north of the province
        moved = services.do_update_feature(
            "field_reports", report.pk, {}, geometry=far, expected_version=1, actor="t"
        )
        assert moved.commune_id != report.commune_id
        assert moved.commune.geom.covers(far)

    def test_point_outside_every_commune_has_none(self):
        school = services.do_create_feature(
            "schools",
            {"code": "T-SCH-HN", "name": "Trường Hà Nội", "level": "thpt"},
            Point(105.85, 21.03, srid=4326),
            actor="t",
        )
        assert school.commune_id is None


class TestRoadLength:
    def test_length_is_derived(self):
        line = GEOSGeometry("SRID=4326;LINESTRING(105.80 21.60, 105.81 21.60)")
        road = services.do_create_feature(
            "road_segments",
            {"code": "T-RD-1", "name": "Đường thử", "road_class": "urban"},
            line,
            actor="t",
        )
        assert road.length_m == pytest.approx(1035.5, abs=2)  # 0.01° of longitude at 21.6°N


class TestValidation:
    @pytest.mark.parametrize(
        ("overrides", "field"),
        [
            ({"bearing": -1}, "bearing"),
            ({"bearing": 361}, "bearing"),
            ({"fov_angle": 0}, "fov_angle"),
            ({"fov_angle": 400}, "fov_angle"),
            ({"range_m": 0}, "range_m"),
        ],
    )
    def test_camera_ranges(self, overrides, field):
        cam = Camera(geom=CENTRE, **camera_data(**overrides))
        with pytest.raises(ValidationError) as info:
            cam.full_clean()
        assert field in info.value.message_dict

    def test_the_database_enforces_ranges_too(self):
        cam = services.do_create_feature("cameras", camera_data(), CENTRE, actor="t")
        with pytest.raises(IntegrityError) as info, transaction.atomic(), connection.cursor() as c:
            c.execute("UPDATE layers_camera SET bearing = 400 WHERE id = %s", [cam.pk])
        assert "camera_bearing_range" in str(info.value)

    @pytest.mark.parametrize(
        ("geom", "message"),
        [
            (None, "Thiếu hình học"),
            (GEOSGeometry("SRID=4326;POINT EMPTY"), "rỗng"),
            (Point(2.35, 48.85, srid=4326), "ngoài lãnh thổ Việt Nam"),
        ],
    )
    def test_point_geometry(self, geom, message):
        school = School(code="X", name="X", level="thcs", geom=geom)
        with pytest.raises(ValidationError) as info:
            school.full_clean()
        assert message in " ".join(info.value.message_dict["geom"])

    def test_invalid_polygon_is_explained(self):
        bowtie = GEOSGeometry(
            "SRID=4326;MULTIPOLYGON(((105.8 21.5, 105.9 21.6, 105.9 21.5, 105.8 21.6, 105.8 21.5)))"
        )
        unit = AdminUnit(
            code="X1",
            name="X",
            full_name="Xã X",
            kind="xa",
            level="commune",
            generation="2025",
            geom=bowtie,
        )
        with pytest.raises(ValidationError) as info:
            unit.full_clean()
        assert "không hợp lệ" in " ".join(info.value.message_dict["geom"])
        assert "Self-intersection" in " ".join(info.value.message_dict["geom"])

    def test_wrong_geometry_type_through_service(self):
        with pytest.raises(services.InvalidFeature) as info:
            services.do_create_feature(
                "schools",
                {"code": "T-SCH-2", "name": "X", "level": "thcs"},
                GEOSGeometry("SRID=4326;LINESTRING(105.8 21.5, 105.9 21.6)"),
                actor="t",
            )
        assert "Sai kiểu hình học" in info.value.message


class TestAdminUnitLayers:
    def test_generated_layer_column(self):
        unit = services.do_create_feature(
            "districts_2024",
            {"code": "999", "name": "Huyện thử", "full_name": "Huyện Thử", "kind": "huyen"},
            MultiPolygon(Polygon.from_bbox((105.8, 21.5, 105.81, 21.51)), srid=4326),
            actor="t",
        )
        assert unit.layer == "districts_2024"
        assert unit.level == "district" and unit.generation == "2024"

    def test_validity_period_is_checked(self):
        with pytest.raises(IntegrityError), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE layers_adminunit SET valid_from = '2025-07-01', valid_to = '2020-01-01' "
                "WHERE layer = 'communes' AND id = (SELECT min(id) FROM layers_adminunit "
                "WHERE layer = 'communes')"
            )


class TestFieldReportWorkflow:
    def make(self):
        return services.do_create_feature(
            "field_reports",
            {"category": "flooding", "title": "Ngập sâu", "description": "Ngập sau mưa lớn"},
            CENTRE,
            actor="citizen",
        )

    def test_defaults(self):
        report = self.make()
        assert report.status == "new"
        assert report.tracking_code.startswith("PA-")
        assert (report.due_at - report.submitted_at).days == 1  # flooding: 1 day
        assert report.commune_id is not None

    def test_public_history_follows_transitions(self):
        report = self.make()
        for status in ("received", "assigned", "in_progress", "resolved"):
            report = services.do_transition_report(
                report.pk, status, actor="operator", note=f"→ {status}"
            )
        history = list(report.status_changes.values_list("from_status", "to_status", "note"))
        assert history[0] == ("", "new", "")
        assert history[-1] == ("in_progress", "resolved", "→ resolved")
        assert report.resolved_at is not None

    def test_illegal_transition_refused_by_service_and_database(self):
        report = self.make()
        with pytest.raises(services.InvalidFeature):
            services.do_transition_report(report.pk, "closed", actor="operator")
        with pytest.raises(IntegrityError) as info, transaction.atomic(), connection.cursor() as c:
            c.execute("UPDATE layers_fieldreport SET status = 'closed' WHERE id = %s", [report.pk])
        assert "cannot go from" in str(info.value)
        assert FieldReport.objects.get(pk=report.pk).status == "new"
