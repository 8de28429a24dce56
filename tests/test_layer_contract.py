"""The contract every registered layer must meet. A new declaration is covered automatically."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.contrib.gis.db.models import GeometryField
from django.db import connection

from layers.registry import Access, FeatureLayer, registry

pytestmark = pytest.mark.django_db

FEATURE_LAYERS = registry.feature_layers()
LAYER_IDS = [layer.id for layer in FEATURE_LAYERS]

# Ids other issues and their tests rely on.
REQUIRED_IDS = {
    "province",
    "communes",
    "districts_2024",
    "communes_2009",
    "cameras",
    "schools",
    "health_facilities",
    "traffic_nodes",
    "road_segments",
    "field_reports",
}


def test_required_layers_are_registered():
    assert REQUIRED_IDS <= set(registry.ids())


@pytest.fixture(params=FEATURE_LAYERS, ids=LAYER_IDS)
def layer(request) -> FeatureLayer:
    return request.param


def test_declaration_is_complete(layer):
    assert layer.title.vi and layer.title.en and layer.title.vi != layer.title.en
    assert layer.description.vi and layer.description.en
    assert layer.keywords and layer.attribution
    assert layer.public_fields
    assert isinstance(layer.model._meta.get_field(layer.geometry_field), GeometryField)
    assert layer.geometry_type in {
        "POINT",
        "LINESTRING",
        "POLYGON",
        "MULTIPOINT",
        "MULTILINESTRING",
        "MULTIPOLYGON",
    }


def test_demo_data_fills_it(layer):
    assert layer.queryset().exists()
    # Every stored geometry has the declared type and is valid.
    where, params = layer.sql_filter()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FILTER (WHERE GeometryType(geom) <> %s OR NOT ST_IsValid(geom)) "
            f'FROM "{layer.table}" WHERE {where}',
            [layer.geometry_type, *params],
        )
        assert cursor.fetchone()[0] == 0


def test_change_capture_is_installed(layer):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT array_agg(tgname::text ORDER BY tgname) FROM pg_trigger "
            "WHERE tgrelid = %s::regclass AND tgname LIKE 'ioc%%'",
            [layer.table],
        )
        triggers = set(cursor.fetchone()[0])
    assert {"ioc_bzz_stamp", "ioc_capture_insdel", "ioc_capture_upd"} <= triggers


def test_permissions_exist(layer):
    for codename, _name in layer.permissions():
        assert Permission.objects.filter(
            content_type__app_label="layers", codename=codename
        ).exists()


def test_access_rules(layer, users):
    assert layer.can_view(users["admin"])
    if layer.access == Access.PUBLIC:
        assert layer.can_view(None) and layer.can_view(users["viewer"])
    else:
        assert not layer.can_view(None) and not layer.can_view(users["viewer"])
    if layer.access == Access.RESTRICTED:
        assert not layer.can_view(users["staffer"])
        assert layer.can_view(users["operator"])
    if layer.restricted_fields:
        assert not set(layer.restricted_fields) & set(layer.fields_for(None))
        assert set(layer.restricted_fields) <= set(layer.fields_for(users["admin"]))
    assert layer.can_edit(users["editor"]) == layer.editable
    assert not layer.can_edit(users["viewer"])


def test_listed_by_api_for_those_who_may_see_it(layer, client, users):
    anonymous_ids = {item["id"] for item in client.get("/api/layers").json()["layers"]}
    assert (layer.id in anonymous_ids) == (layer.access == Access.PUBLIC)
    client.force_login(users["admin"])
    items = {item["id"]: item for item in client.get("/api/layers").json()["layers"]}
    item = items[layer.id]
    assert item["feature_count"] == layer.queryset().count()
    minx, miny, maxx, maxy = item["extent"]
    assert 102 < minx <= maxx < 110 and 8 < miny <= maxy < 24
