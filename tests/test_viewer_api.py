"""The map viewer's JSON endpoints: search, stats, feature details, report history, events,
the GeoJSON fallback and the label glyphs — through Django's test client on the demo data."""

from __future__ import annotations

import json
import time

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from layers import services
from layers.models import AdminUnit, Camera, FieldReport, School

# Tests that need real commits (LISTEN/NOTIFY) use ``committed``; the rest roll back.
rolled_back = pytest.mark.django_db


def _client(client, user=None):
    if user is not None:
        client.force_login(user)
    return client


@rolled_back
def test_index_is_vietnamese_first_and_offline(client):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="vi">' in html
    assert "Bản đồ điều hành IOC Thái Nguyên" in html
    assert "/static/vendor/maplibre-gl/maplibre-gl.js" in html
    assert "https://" not in html  # no CDN
    client.cookies["django_language"] = "en"
    assert '<html lang="en">' in client.get("/").content.decode()


@rolled_back
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("dong hy", "Đồng Hỷ"),
        ("DONG HY", "Đồng Hỷ"),
        ("đồng hỷ", "Đồng Hỷ"),
        ("thai nguyen", "Thái Nguyên"),
        ("hy dong", "Đồng Hỷ"),
    ],
)
def test_search_ignores_diacritics_and_case(client, query, expected):
    results = client.get("/api/search", {"q": query}).json()["results"]
    assert results, query
    labels = [r["label"] for r in results]
    assert any(expected in label for label in labels), labels
    first = results[0]
    assert set(first) >= {"layer", "id", "label", "center", "bbox", "layer_title"}


@rolled_back
def test_search_only_in_visible_layers(client, users):
    camera = Camera.objects.order_by("id").first()
    anonymous = client.get("/api/search", {"q": camera.name}).json()["results"]
    assert not [r for r in anonymous if r["layer"] in ("cameras", "traffic_nodes")]
    client.force_login(users["operator"])
    operator = client.get("/api/search", {"q": camera.name}).json()["results"]
    assert {"layer": "cameras", "id": camera.id} in [
        {"layer": r["layer"], "id": r["id"]} for r in operator
    ]


@rolled_back
def test_search_escapes_like_wildcards(client):
    assert client.get("/api/search", {"q": "%"}).json()["results"] == []
    assert client.get("/api/search", {"q": "   "}).json()["results"] == []


@rolled_back
def test_stats_one_query_and_counts(client):
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/stats")
    assert response.status_code == 200
    assert len(queries) == 1, [q["sql"][:120] for q in queries]
    data = response.json()
    ids = [m["id"] for m in data["metrics"]]
    assert ids == ["population", "schools", "health_facilities", "reports_open", "reports_overdue"]
    units = data["units"]
    assert len(units) == AdminUnit.objects.filter(layer="communes").count()
    assert (
        sum(u["values"]["schools"] for u in units) == School.objects.exclude(commune=None).count()
    )
    open_reports = FieldReport.objects.filter(status__in=FieldReport.OPEN_STATUSES)
    assert (
        sum(u["values"]["reports_open"] for u in units)
        == open_reports.exclude(commune=None).count()
    )
    dong_hy = next(u for u in units if u["name"] == "Đồng Hỷ")
    assert dong_hy["predecessors"], "the crosswalk names the communes it was formed from"


@rolled_back
def test_stats_for_operator_include_cameras_in_one_stats_query(client, users):
    client.force_login(users["operator"])
    with CaptureQueriesContext(connection) as queries:
        data = client.get("/api/stats").json()
    stats_queries = [q for q in queries if "WITH u AS" in q["sql"]]
    assert len(stats_queries) == 1
    assert {"cameras_online", "cameras_offline"} <= {m["id"] for m in data["metrics"]}
    total = sum(
        u["values"]["cameras_online"] + u["values"]["cameras_offline"] for u in data["units"]
    )
    assert total == Camera.objects.exclude(commune=None).count()


@rolled_back
def test_stats_by_pre_2025_district(client):
    data = client.get("/api/stats", {"by": "districts"}).json()
    assert data["layer"] == "districts_2024"
    assert len(data["units"]) == AdminUnit.objects.filter(layer="districts_2024").count()
    assert sum(u["values"]["schools"] for u in data["units"]) > 0
    assert client.get("/api/stats", {"by": "provinces"}).status_code == 400


@rolled_back
def test_feature_details_respect_access(client, users):
    camera = Camera.objects.order_by("id").first()
    assert client.get(f"/api/features/cameras/{camera.id}").status_code == 404
    report = FieldReport.objects.order_by("id").first()
    public = client.get(f"/api/features/field_reports/{report.id}").json()
    assert "reporter_phone" not in public["properties"]
    assert public["display"]["status"]
    client.force_login(users["operator"])
    details = client.get(f"/api/features/cameras/{camera.id}").json()
    assert details["properties"]["code"] == camera.code
    assert "stream_url" in details["properties"]
    assert (
        "reporter_phone"
        in client.get(f"/api/features/field_reports/{report.id}").json()["properties"]
    )


@rolled_back
def test_report_history(client):
    report = FieldReport.objects.filter(status="new").order_by("id").first()
    services.do_transition_report(report.pk, "received", actor="test", note="Đã tiếp nhận")
    history = client.get(f"/api/reports/{report.pk}/history").json()["history"]
    assert history[-1]["to_status"] == "received"
    assert history[-1]["note"] == "Đã tiếp nhận"
    assert "changed_by" not in history[-1]  # the public history names no official
    assert client.get("/api/reports/999999999/history").status_code == 404


@rolled_back
def test_geojson_fallback_hides_restricted(client, users):
    assert client.get("/api/geojson/cameras").status_code == 404
    data = json.loads(client.get("/api/geojson/field_reports").content)
    props = data["features"][0]["properties"]
    assert "reporter_phone" not in props and "tracking_code" in props
    client.force_login(users["operator"])
    fov = json.loads(client.get("/api/geojson/cameras", {"geometry": "fov"}).content)
    assert fov["features"][0]["geometry"]["type"] == "Polygon"


@rolled_back
def test_glyph_range_covers_vietnamese(client, tmp_path):
    with override_settings(VIEWER_GLYPH_DIR=tmp_path):
        response = client.get("/static/viewer/glyphs/IOC Sans Regular/256-511.pbf")
        assert response.status_code == 200
        body = b"".join(response.streaming_content)
    # Protobuf: glyph id fields for Đ (U+0110) and ơ (U+01A1) are present.
    for code in (0x110, 0x1A1):
        varint = bytes([0x08, (code & 0x7F) | 0x80, code >> 7])
        assert varint in body
    assert client.get("/static/viewer/glyphs/Nope/0-255.pbf").status_code == 404


# --- live events ------------------------------------------------------------------------------
@pytest.fixture
def events_of(client, committed):
    """Open /api/events streams; they (and their LISTEN connections) are closed afterwards."""
    opened = []

    def open_stream(**headers):
        response = client.get("/api/events", **headers)
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/event-stream")
        opened.append(response)
        return iter(response.streaming_content)

    yield open_stream
    for response in opened:
        response.close()


def _next_change(stream, limit=50):
    for _ in range(limit):
        chunk = next(stream).decode()
        if "event: change" in chunk:
            return json.loads(chunk.split("data: ", 1)[1])
        if "event: bye" in chunk:
            return None
    return None


@override_settings(VIEWER_SSE_HEARTBEAT=0.2, VIEWER_SSE_LIFETIME=10)
def test_events_forward_visible_changes_only(events_of, committed):
    stream = events_of()
    assert "retry:" in next(stream).decode()
    camera = Camera.objects.order_by("id").first()
    old_status = camera.status
    services.do_update_feature(
        "cameras", camera.pk, {"status": "maintenance"}, expected_version=None, actor="test"
    )
    try:
        report = services.do_create_feature(
            "field_reports",
            {"category": "waste", "title": "Rác thải thử nghiệm SSE", "description": "x"},
            "POINT(105.84 21.59)",
            actor="test",
        )
        change = _next_change(stream)
        # The anonymous stream skipped the (restricted) camera change.
        assert change["layer"] == "field_reports" and change["id"] == report.pk
        assert change["op"] == "I" and change["new_bbox"]
    finally:
        services.do_update_feature(
            "cameras", camera.pk, {"status": old_status}, expected_version=None, actor="test"
        )


@override_settings(VIEWER_SSE_HEARTBEAT=0.2, VIEWER_SSE_LIFETIME=10)
def test_events_catch_up_and_operator_sees_cameras(client, events_of, committed, users):
    from layers.models import FeatureHistory

    last = FeatureHistory.objects.order_by("-id").values_list("id", flat=True).first()
    camera = Camera.objects.order_by("id").first()
    old_status = camera.status
    services.do_update_feature(
        "cameras", camera.pk, {"status": "offline"}, expected_version=None, actor="test"
    )
    try:
        client.force_login(users["operator"])
        stream = events_of(HTTP_LAST_EVENT_ID=str(last))
        change = _next_change(stream)
        assert change["layer"] == "cameras" and change["id"] == camera.pk
        assert change["history_id"] > last
    finally:
        services.do_update_feature(
            "cameras", camera.pk, {"status": old_status}, expected_version=None, actor="test"
        )


@override_settings(VIEWER_SSE_HEARTBEAT=0.1, VIEWER_SSE_LIFETIME=0.35)
def test_events_stream_is_bounded(events_of, committed):
    chunks = [c.decode() for c in events_of()]
    assert any(c.startswith(": ping") for c in chunks)
    assert "event: bye" in chunks[-1]


@override_settings(VIEWER_SSE_HEARTBEAT=0.1, VIEWER_SSE_LIFETIME=5, VIEWER_SSE_STREAMS=1)
def test_events_beyond_the_worker_stream_limit_poll_without_losing_changes(events_of, committed):
    """A worker keeps VIEWER_SSE_STREAMS streams open; another stream sends its position (or
    what is new since Last-Event-ID) at once and ends, so the browser polls instead of holding
    a thread the worker needs for tiles and pages."""
    from layers.models import FeatureHistory

    held = events_of()
    assert "retry: 2000" in next(held).decode()  # takes the only slot
    started = time.monotonic()
    polled = "".join(c.decode() for c in events_of())
    assert time.monotonic() - started < 2
    assert "retry: 5000" in polled and "event: bye" in polled
    top = FeatureHistory.objects.order_by("-id").values_list("id", flat=True).first()
    assert f"id: {top}\n" in polled  # the browser's next Last-Event-ID
    report = services.do_create_feature(
        "field_reports",
        {"category": "waste", "title": "Rác thải thử nghiệm thăm dò", "description": "x"},
        "POINT(105.84 21.59)",
        actor="test",
    )
    again = [c.decode() for c in events_of(HTTP_LAST_EVENT_ID=str(top))]
    changes = [json.loads(c.split("data: ", 1)[1]) for c in again if "event: change" in c]
    assert [c["id"] for c in changes if c["layer"] == "field_reports"] == [report.pk]
    assert "event: bye" in again[-1]
    for _chunk in held:  # the held stream ends by its lifetime; its slot is freed
        pass
    assert "retry: 2000" in next(events_of()).decode()
