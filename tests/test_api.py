"""/api/layers and /healthz at the HTTP interface."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from django.test.utils import CaptureQueriesContext

from geo.processes import free_port, stop_process
from tests.conftest import start_server

pytestmark = pytest.mark.django_db


def layer_ids(client) -> set[str]:
    response = client.get("/api/layers")
    assert response.status_code == 200
    return {item["id"] for item in response.json()["layers"]}


def test_anonymous_sees_public_layers_only(client):
    ids = layer_ids(client)
    assert {"province", "communes", "schools", "field_reports", "road_segments"} <= ids
    assert "cameras" not in ids and "traffic_nodes" not in ids


def test_staff_see_internal_layers(client, users):
    client.force_login(users["staffer"])
    ids = layer_ids(client)
    assert "traffic_nodes" in ids and "cameras" not in ids


def test_operators_see_restricted_layers(client, users):
    client.force_login(users["operator"])
    ids = layer_ids(client)
    assert {"traffic_nodes", "cameras"} <= ids


def test_layer_document(client, users):
    client.force_login(users["operator"])
    items = {item["id"]: item for item in client.get("/api/layers").json()["layers"]}
    communes = items["communes"]
    assert communes["feature_count"] == 92
    assert communes["title"] == {
        "vi": "Xã, phường (từ 01/07/2025)",
        "en": "Communes and wards (from 1 July 2025)",
    }
    assert communes["geometry_type"] == "MULTIPOLYGON"
    assert communes["access"] == "public"
    minx, miny, maxx, maxy = communes["extent"]
    assert 105.2 < minx < 105.7 and 106.0 < maxx < 106.3 and 21.3 < miny < maxy < 22.8
    assert "stream_url" in items["cameras"]["fields"]  # operators may see stream URLs


def test_restricted_fields_hidden_from_anonymous(client):
    items = {item["id"]: item for item in client.get("/api/layers").json()["layers"]}
    assert "reporter_phone" not in items["field_reports"]["fields"]
    assert items["field_reports"]["editable"] is False


def test_one_query_for_all_counts(client, users, django_assert_max_num_queries):
    client.force_login(users["admin"])
    client.get("/api/layers")  # warm the session
    with django_assert_max_num_queries(4):  # session + user + permissions + the union query
        client.get("/api/layers")


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["postgresql"] and body["database"]["postgis"].startswith("3.")
    # load balancers probe with HEAD too; writes are refused
    head = client.head("/healthz")
    assert head.status_code == 200 and head.content == b""
    assert client.post("/healthz").status_code == 405


def test_healthz_503_when_database_is_down(tmp_path):
    """A real server whose database is unreachable answers 503 with JSON, no traceback."""
    dead = f"postgis://ioc:x@127.0.0.1:{free_port()}/ioc"
    url, process = start_server({"DATABASE_URL": dead}, tmp_path / "server.log")
    try:
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"{url}/healthz", timeout=20)
        assert info.value.code == 503
        body = json.loads(info.value.read())
        assert body == {"status": "error", "database": "unreachable", "error": "OperationalError"}
    finally:
        stop_process(process)


def test_healthz_is_cheap(client):
    from django.db import connection

    with CaptureQueriesContext(connection) as queries:
        client.get("/healthz")
    assert len(queries) == 1
