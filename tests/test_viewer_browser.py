"""The map at / in a real headless Chromium against the real server (granian on the test DB).

tests/browser/viewer.mjs drives the browser (playwright-core + Debian's /usr/bin/chromium) and
prints its findings as JSON; this test serves it, creates a field report when it asks, and
checks what it saw. Screenshots land in tests/artifacts/.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from layers import services
from layers.models import AdminUnit, Camera, TrafficNode
from layers.registry import Access, FeatureLayer, registry

ROOT = Path(settings.BASE_DIR)
SCRIPT = ROOT / "tests" / "browser" / "viewer.mjs"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = pytest.mark.skipif(
    (not Path(CHROMIUM).exists() or not (ROOT / "node_modules" / "playwright-core").exists())
    and not os.environ.get("CI"),  # in CI a missing browser is a failure, not a skip
    reason="needs Debian's chromium and node_modules/playwright-core (make test installs both)",
)


@pytest.fixture(scope="session")
def viewer_glyphs(django_db_setup):
    """The label glyphs, rendered once (manage.py viewer_glyphs; cached under var/glyphs)."""
    call_command("viewer_glyphs", verbosity=0)


@pytest.fixture(scope="module")
def viewer_url(viewer_glyphs, django_db_setup, django_db_blocker, tmp_path_factory):
    """The platform as `make run` serves it: granian plus the tile cache's change listener
    (Procfile), so edits reach the vector tiles as they do in production."""
    import sys

    from geo.db import database_url
    from geo.processes import start_process, stop_process
    from tests.conftest import start_server

    work = tmp_path_factory.mktemp("viewer-live")
    env = {"DATABASE_URL": database_url(), "IOC_TILE_CACHE_DIR": str(work / "tiles")}
    url, server = start_server(env, work / "server.log")
    listener = start_process(
        [sys.executable, "manage.py", "listen_changes"], env, work / "listener.log"
    )
    try:
        with django_db_blocker.unblock():
            yield url
    finally:
        for process in (listener, server):
            stop_process(process)


def _camera_alone():
    """A camera with no traffic node on the same spot, so a click hits the camera."""
    for camera in Camera.objects.exclude(fov=None).order_by("id")[:50]:
        if not TrafficNode.objects.filter(geom__dwithin=(camera.geom, 0.0005)).exists():
            return camera
    return Camera.objects.order_by("id").first()


def test_map_in_headless_chromium(viewer_url, committed, users):
    camera = _camera_alone()
    commune = AdminUnit.objects.get(layer="communes", name="Phan Đình Phùng")
    spot = commune.geom.point_on_surface
    restricted = [layer.id for layer in registry.feature_layers() if layer.access != Access.PUBLIC]
    restricted_fields = sorted(
        {f for layer in registry.feature_layers() for f in layer.restricted_fields}
    )
    args = {
        "url": viewer_url,
        "artifacts": str(ROOT / "tests" / "artifacts"),
        "chromium": CHROMIUM,
        "report_at": [round(spot.x, 6), round(spot.y, 6)],
        "restricted_layers": restricted,
        "restricted_fields": restricted_fields,
        "operator": {"username": users["operator"].username, "password": "pw-test-123!"},
        "camera": {"id": camera.id, "at": [camera.geom.x, camera.geom.y]},
    }
    process = subprocess.Popen(
        ["node", str(SCRIPT), json.dumps(args)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    result, report = None, None
    deadline = time.monotonic() + 240
    try:
        for line in process.stdout:
            if line.startswith("NEED_REPORT "):
                at = json.loads(line.split(" ", 1)[1])
                report = services.do_create_feature(
                    "field_reports",
                    {
                        "category": "flooding",
                        "title": "Ngập sâu sau mưa lớn (kiểm thử trực tiếp)",
                        "description": "Phản ánh tạo bởi kiểm thử trình duyệt.",
                        "reporter_phone": "0912345678",
                    },
                    f"POINT({at['lon']} {at['lat']})",
                    actor="citizen-portal",
                )
                process.stdin.write(f"REPORT {report.pk}\n")
                process.stdin.flush()
            elif line.startswith("RESULT "):
                result = json.loads(line.split(" ", 1)[1])
            if time.monotonic() > deadline:
                break
    finally:
        if process.poll() is None:
            process.wait(timeout=30)
    assert result is not None, process.stderr.read()[-3000:]
    assert "fatal" not in result, result
    checks, timings = result["checks"], result["timings"]

    # The map loads, is Vietnamese, and draws the default layers (rendered features).
    assert checks["lang_default"] == "vi"
    assert checks["title_vi"] == "Bản đồ điều hành IOC Thái Nguyên"
    for layer_id in ("communes", "province", "schools", "health_facilities", "road_segments"):
        assert checks["rendered_default"][layer_id] > 0, checks["rendered_default"]
    assert "OpenStreetMap" in checks["attribution"]
    # Toggling a layer changes what is rendered.
    assert checks["toggle"]["off"] == 0 and checks["toggle"]["on"] > 0
    # Search without diacritics; the Vietnamese label is drawn from our own glyphs.
    assert "Đồng Hỷ" in checks["search_results"]
    assert "Đồng Hỷ" in checks["labels"]
    assert checks["glyph_requests"] and all(s == 200 for _, s in checks["glyph_requests"])
    assert any("7680-7935" in name for name, _ in checks["glyph_requests"])
    # Language switch.
    assert checks["title_en"] == "Thái Nguyên IOC operations map"
    assert "Administrative units" in checks["groups_en"]
    assert checks["title_back"] == "Bản đồ điều hành IOC Thái Nguyên"
    # Dashboard and choropleth.
    assert "cameras_online" not in checks["metrics_anonymous"]
    assert checks["choropleth"].startswith('["match"')
    # Live: the report appeared on the open page within 2 s, with a toast.
    assert checks["live_event"], result
    assert timings["live_report_ms"] is not None and timings["live_report_ms"] < 2000, timings
    assert any("Ngập sâu" in text for text in checks["toast"]), checks["toast"]
    # Anonymous pages never receive restricted layers' tiles or fields.
    assert checks["anonymous_restricted_requests"] == []
    assert checks["anonymous_restricted_fields"] == []
    assert checks["anonymous_layers_body_has_restricted"] is False
    assert not set(restricted) & set(checks["tree_layers"])
    # The operator sees cameras; clicking one opens its popup and draws its field of view.
    assert "cameras" in checks["operator_tree_layers"]
    assert "cameras_online" in checks["metrics_operator"]
    assert checks["camera_popup"]["layer"] == "cameras"
    assert checks["camera_popup"]["feature"] == camera.id
    assert "stream_url" in checks["camera_popup"]["fields"]
    assert checks["camera_fov_selected"] == [camera.id]
    assert checks["operator_camera_tiles"] > 0
    assert not [e for e in result["errors"] if "404" not in e and "favicon" not in e], result[
        "errors"
    ]


def test_restricted_layers_are_declared():
    """Guards the browser test's premise: some layers are not public."""
    assert [
        layer.id
        for layer in registry.feature_layers()
        if isinstance(layer, FeatureLayer) and layer.access != Access.PUBLIC
    ]
