"""History rows and NOTIFY payloads for every edit path: service functions and plain SQL
as a separate database role (what QGIS editing PostGIS directly does)."""

from __future__ import annotations

import json

import psycopg
import pytest
from django.conf import settings
from django.contrib.gis.geos import Point
from django.core.management import call_command

from geo.db import conninfo as db_conninfo
from layers import services
from layers.models import Camera, FeatureHistory

CHANNEL = settings.IOC_CHANGE_CHANNEL
CENTRE = Point(105.8442, 21.5928, srid=4326)


def conninfo(user: str | None = None) -> str:
    return db_conninfo(user=user) if user else db_conninfo()


@pytest.fixture
def listener():
    conn = psycopg.connect(conninfo(), autocommit=True)
    conn.execute(f"LISTEN {CHANNEL}")

    def received(expected: int = 1, timeout: float = 3.0) -> list[dict]:
        return [json.loads(n.payload) for n in conn.notifies(timeout=timeout, stop_after=expected)]

    yield received
    conn.close()


def camera(code: str = "CAP-1", **extra):
    data = {
        "code": code,
        "name": "Camera",
        "purpose": "surveillance",
        "bearing": 45,
        "fov_angle": 90,
        "range_m": 80,
        "agency": "Công an tỉnh",
    }
    data.update(extra)
    return data


def test_service_edits_record_history_and_notify(committed, listener, users):
    editor = users["editor"]
    cam = services.do_create_feature("cameras", camera(), CENTRE, actor=editor)
    [created] = listener()
    assert created["layer"] == "cameras" and created["op"] == "I" and created["id"] == cam.pk
    assert created["old_bbox"] is None
    # The bbox covers the field of view, not only the point: tiles drawing the FOV must go.
    minx, miny, maxx, maxy = created["new_bbox"]
    assert minx <= CENTRE.x <= maxx and maxx - minx > 0.0005

    moved = Point(105.85, 21.60, srid=4326)
    cam = services.do_update_feature(
        "cameras", cam.pk, {"status": "offline"}, geometry=moved, expected_version=1, actor=editor
    )
    [updated] = listener()
    assert updated["op"] == "U" and updated["version"] == 2
    assert updated["old_bbox"][0] < CENTRE.x + 0.001 and updated["new_bbox"][2] > moved.x

    services.do_delete_feature("cameras", cam.pk, expected_version=2, actor=editor)
    [deleted] = listener()
    assert deleted["op"] == "D" and deleted["new_bbox"] is None and deleted["old_bbox"]

    rows = list(FeatureHistory.objects.filter(layer="cameras", feature_id=cam.pk).order_by("id"))
    assert [(r.op, r.version, r.actor, r.db_role) for r in rows] == [
        ("I", 1, "t_editor", settings.DATABASES["default"]["USER"]),
        ("U", 2, "t_editor", settings.DATABASES["default"]["USER"]),
        ("D", 2, "t_editor", settings.DATABASES["default"]["USER"]),
    ]
    assert rows[1].old_data["status"] == "online" and rows[1].new_data["status"] == "offline"
    assert rows[1].old_geom.equals(CENTRE) and rows[1].new_geom.equals(moved)
    assert "geom" not in rows[1].new_data and "fov" not in rows[1].new_data
    assert [r.id for r in rows][-1] == deleted["history_id"]


@pytest.fixture
def qgis_role(committed):
    call_command("grant_layer_editing", "ioc_test_qgis", verbosity=0)
    return "ioc_test_qgis"


def test_plain_sql_as_another_role_is_captured(qgis_role, listener):
    """An editor connected straight to PostGIS: history names the role, NOTIFY fires."""
    with psycopg.connect(conninfo(qgis_role)) as conn:
        row = conn.execute(
            "INSERT INTO layers_camera (code, name, kind, purpose, geom, bearing, fov_angle, "
            "range_m, status, stream_url, snapshot_url, agency, access_level, address) VALUES "
            "('SQL-1', 'Từ QGIS', 'fixed', 'traffic', ST_SetSRID(ST_MakePoint(105.84, 21.59), "
            "4326), 10, 60, 50, 'online', '', '', 'Sở Xây dựng', 'internal', '') "
            "RETURNING id, version, commune_id, fov IS NOT NULL"
        ).fetchone()
        conn.commit()
        pk, version, commune_id, has_fov = row
        assert version == 1 and commune_id is not None and has_fov
        conn.execute("UPDATE layers_camera SET status = 'maintenance' WHERE id = %s", [pk])
        conn.commit()
        conn.execute("DELETE FROM layers_camera WHERE id = %s", [pk])
        conn.commit()
    payloads = listener(expected=3)
    assert [(p["op"], p["id"], p["layer"]) for p in payloads] == [
        ("I", pk, "cameras"),
        ("U", pk, "cameras"),
        ("D", pk, "cameras"),
    ]
    rows = FeatureHistory.objects.filter(layer="cameras", feature_id=pk).order_by("id")
    assert {(r.actor, r.db_role) for r in rows} == {(qgis_role, qgis_role)}
    assert [r.version for r in rows] == [1, 2, 2]


def test_direct_editors_cannot_forge_history(qgis_role):
    with (
        psycopg.connect(conninfo(qgis_role)) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute(
            "INSERT INTO layers_featurehistory (table_name, feature_id, op, actor, db_role, txid)"
            " VALUES ('x', 1, 'I', 'x', 'x', 1)"
        )


def test_admin_unit_edits_name_their_layer(committed, listener):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE layers_adminunit SET population = population + 1 "
            "WHERE id = (SELECT min(id) FROM layers_adminunit WHERE layer = 'districts_2024') "
            "RETURNING id"
        )
        pk = cursor.fetchone()[0]
        [payload] = listener()
        assert payload["layer"] == "districts_2024" and payload["id"] == pk
        cursor.execute(
            "UPDATE layers_adminunit SET population = population - 1 WHERE id = %s", [pk]
        )
    listener()


def test_an_update_that_changes_nothing_is_not_a_version(committed, listener, users):
    cam = services.do_create_feature("cameras", camera("CAP-NOOP"), CENTRE, actor="t")
    listener()
    same = services.do_update_feature(
        "cameras", cam.pk, {"status": "online"}, expected_version=1, actor=users["editor"]
    )
    assert same.version == 1
    assert listener(timeout=0.5) == []
    assert FeatureHistory.objects.filter(layer="cameras", feature_id=cam.pk).count() == 1


class TestOptimisticLocking:
    pytestmark = pytest.mark.django_db

    def test_stale_version_is_refused_and_nothing_changes(self, users):
        cam = services.do_create_feature("cameras", camera("LOCK-1"), CENTRE, actor="t")
        services.do_update_feature(
            "cameras", cam.pk, {"name": "Bản của A"}, expected_version=1, actor=users["editor"]
        )
        with pytest.raises(services.VersionConflict) as info:
            services.do_update_feature(
                "cameras", cam.pk, {"name": "Bản của B"}, expected_version=1, actor=users["editor"]
            )
        assert info.value.status == 412 and info.value.details["current_version"] == 2
        assert Camera.objects.get(pk=cam.pk).name == "Bản của A"
        with pytest.raises(services.VersionConflict):
            services.do_delete_feature("cameras", cam.pk, expected_version=1, actor=users["editor"])
        assert Camera.objects.filter(pk=cam.pk).exists()

    def test_permissions(self, users):
        with pytest.raises(services.EditDenied):
            services.do_create_feature("cameras", camera("P-1"), CENTRE, actor=users["viewer"])
        with pytest.raises(services.EditDenied):  # operators see cameras but don't edit them
            services.do_create_feature("cameras", camera("P-2"), CENTRE, actor=users["operator"])
        services.do_create_feature("cameras", camera("P-3"), CENTRE, actor=users["editor"])

    def test_unknown_feature(self, users):
        with pytest.raises(services.FeatureNotFound):
            services.do_update_feature(
                "cameras", 10**9, {}, expected_version=1, actor=users["editor"]
            )
        with pytest.raises(services.FeatureNotFound):
            services.do_update_feature(
                "cameras", "abc", {}, expected_version=1, actor=users["editor"]
            )

    def test_unknown_attribute(self, users):
        with pytest.raises(services.InvalidFeature) as info:
            services.do_create_feature(
                "cameras", camera("U-1", colour="red"), CENTRE, actor=users["editor"]
            )
        assert "colour" in info.value.message


class TestRestore:
    pytestmark = pytest.mark.django_db

    def test_restore_an_old_version(self, users):
        editor = users["editor"]
        cam = services.do_create_feature("cameras", camera("R-1", name="Gốc"), CENTRE, actor=editor)
        services.do_update_feature(
            "cameras",
            cam.pk,
            {"name": "Sửa sai", "bearing": 200},
            geometry=Point(105.9, 21.7, srid=4326),
            expected_version=1,
            actor=editor,
        )
        restored = services.do_restore_version("cameras", cam.pk, 1, actor=editor)
        assert restored.version == 3
        assert restored.name == "Gốc" and restored.bearing == 45
        assert restored.geom.equals_exact(CENTRE, 1e-9)

    def test_restore_a_deleted_feature(self, users):
        editor = users["editor"]
        cam = services.do_create_feature("cameras", camera("R-2"), CENTRE, actor=editor)
        services.do_delete_feature("cameras", cam.pk, expected_version=1, actor=editor)
        back = services.do_restore_version("cameras", cam.pk, 1, actor=editor)
        assert back.pk == cam.pk and back.code == "R-2" and back.fov is not None
        # Numbering continues after the deletion (v1 deleted → back as v2), so an ETag or form
        # from before the deletion can't match the restored feature.
        assert back.version == 2
        with pytest.raises(services.VersionConflict):
            services.do_update_feature(
                "cameras", cam.pk, {"name": "cũ"}, expected_version=1, actor=editor
            )
