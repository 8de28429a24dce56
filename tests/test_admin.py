"""The admin edits every layer on an offline map, through the service functions."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from layers.models import Camera, FeatureHistory
from layers.registry import registry

pytestmark = pytest.mark.django_db

CAMERA_POINT = '{"type": "Point", "coordinates": [11782800, 2463600]}'  # EPSG:3857, TN city


@pytest.fixture
def admin_client(client, users):
    client.force_login(users["admin"])
    return client


def camera_form(**overrides) -> dict:
    data = {
        "code": "ADM-1",
        "name": "Camera nút giao",
        "kind": "fixed",
        "purpose": "traffic",
        "geom": CAMERA_POINT,
        "bearing": "120",
        "fov_angle": "70",
        "range_m": "90",
        "status": "online",
        "agency": "Sở Xây dựng",
        "access_level": "internal",
        "expected_version": "",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize("model", registry.models(), ids=lambda m: m._meta.model_name)
def test_every_layer_has_an_offline_change_form(admin_client, model):
    obj = model.objects.order_by("pk").first()
    url = reverse(f"admin:layers_{model._meta.model_name}_change", args=[obj.pk])
    html = admin_client.get(url).content.decode()
    assert "vendor/ol/ol.js" in html and reverse("admin-background") in html
    # Assets (scripts, styles, images, frames), not data links such as a camera's stream URL.
    external = re.findall(
        r"""<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)=["'](https?://[^"']+)""", html
    )
    assert external == [], f"the admin must work offline, found {external}"


def test_background_is_our_communes(admin_client):
    response = admin_client.get(reverse("admin-background"))
    assert response.status_code == 200
    assert len(response.json()["features"]) == 92


def test_background_needs_staff(client):
    assert client.get(reverse("admin-background")).status_code == 302


def test_offline_assets_are_served(admin_client):
    from django.contrib.staticfiles import finders

    assert finders.find("vendor/ol/ol.js") and finders.find("vendor/ol/ol.css")


def test_add_goes_through_services(admin_client):
    response = admin_client.post(reverse("admin:layers_camera_add"), camera_form())
    assert response.status_code == 302, response.content.decode()[:2000]
    cam = Camera.objects.get(code="ADM-1")
    assert cam.fov is not None and cam.commune_id is not None and cam.version == 1
    row = FeatureHistory.objects.get(layer="cameras", feature_id=cam.pk)
    assert row.actor == "t_admin"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("bearing", "400", "360"),
        ("fov_angle", "0", "1"),
        ("geom", '{"type": "Point", "coordinates": [261600, 6250500]}', "ngoài lãnh thổ Việt Nam"),
        ("geom", "", "geom"),
    ],
)
def test_validation_errors_are_clear(admin_client, field, value, message):
    response = admin_client.post(reverse("admin:layers_camera_add"), camera_form(**{field: value}))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors
    if message != field:
        assert message in " ".join(errors[field])
    assert not Camera.objects.filter(code="ADM-1").exists()


def test_stale_form_is_refused(admin_client):
    admin_client.post(reverse("admin:layers_camera_add"), camera_form())
    cam = Camera.objects.get(code="ADM-1")
    url = reverse("admin:layers_camera_change", args=[cam.pk])
    first = admin_client.post(url, camera_form(name="Sửa lần 1", expected_version="1"))
    assert first.status_code == 302
    stale = admin_client.post(
        url, camera_form(name="Sửa từ bản cũ", expected_version="1"), follow=True
    )
    assert "phiên bản hiện tại 2" in stale.content.decode()
    assert Camera.objects.get(pk=cam.pk).name == "Sửa lần 1"


def test_history_and_restore(admin_client):
    admin_client.post(reverse("admin:layers_camera_add"), camera_form())
    cam = Camera.objects.get(code="ADM-1")
    url = reverse("admin:layers_camera_change", args=[cam.pk])
    admin_client.post(url, camera_form(name="Tên mới", expected_version="1"))
    history = admin_client.get(reverse("admin:layers_camera_history", args=[cam.pk]))
    assert history.status_code == 200 and "Khôi phục" in history.content.decode()
    admin_client.post(reverse("admin:layers_camera_restore", args=[cam.pk, 1]))
    cam.refresh_from_db()
    assert cam.name == "Camera nút giao" and cam.version == 3
