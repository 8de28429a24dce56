"""The admin's upload page: a background job with progress, a report to download, the
importing user as the author of every history row."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pyogrio.raw
import pytest
import shapely
from django.test import Client

from importers.models import ImportJob
from layers.models import FeatureHistory, School


def _geojson(path: Path, codes: list[str]) -> Path:
    points = shapely.points(np.array([(105.8442, 21.5928), (105.8485, 21.4822)][: len(codes)]))
    pyogrio.raw.write(
        str(path),
        shapely.to_wkb(points),
        [
            np.array(codes, dtype=object),
            np.array(["Trường A", "Trường B"][: len(codes)], dtype=object),
            np.array(["thcs"] * len(codes), dtype=object),
        ],
        ["code", "name", "level"],
        driver="GeoJSON",
        geometry_type="Point",
        crs="EPSG:4326",
    )
    return path


def upload(client: Client, path: Path, *, mode: str, layer: str = "schools"):
    """POST a file to the admin's upload page as a GIS editor would."""
    with path.open("rb") as fh:
        return client.post(
            "/admin/importers/",
            {"file": fh, "layer": layer, "mode": mode, "encoding": "auto", "srs": "auto"},
        )


def _wait(pk: int, timeout: float = 60) -> ImportJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = ImportJob.objects.get(pk=pk)
        if job.finished:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {pk} did not finish")


@pytest.fixture
def editor_client(committed, users, tmp_path, settings):
    settings.IMPORTERS_UPLOAD_DIR = tmp_path / "uploads"
    client = Client()
    client.force_login(users["editor"])
    yield client
    ImportJob.objects.filter(created_by__in=list(users.values())).delete()


def test_upload_runs_a_background_job_with_a_report(editor_client, users, tmp_path):
    page = editor_client.get("/admin/importers/")
    assert page.status_code == 200 and "Nhập dữ liệu" in page.content.decode()
    path = _geojson(tmp_path / "truong.geojson", ["ADM-1", "ADM-2"])
    response = upload(editor_client, path, mode="upsert")
    assert response.status_code == 302
    pk = int(response["Location"].rstrip("/").rsplit("/", 1)[1])
    job = _wait(pk)
    assert job.status == "done", job.error
    assert job.report["counts"]["inserted"] == 2 and job.read == 2
    detail = editor_client.get(f"/admin/importers/{pk}/")
    assert "Thêm mới / inserted: 2" in detail.content.decode()
    status = editor_client.get(f"/admin/importers/{pk}/?format=json").json()
    assert status["status"] == "done" and status["percent"] == 100
    report = editor_client.get(f"/admin/importers/{pk}/report.json")
    assert report["Content-Disposition"].startswith("attachment")
    assert json.loads(report.content)["counts"]["inserted"] == 2
    ids = School.objects.filter(code__in=["ADM-1", "ADM-2"]).values_list("id", flat=True)
    actors = set(
        FeatureHistory.objects.filter(layer="schools", feature_id__in=list(ids)).values_list(
            "actor", flat=True
        )
    )
    assert actors == {"t_editor"}


def test_failed_job_reports_why_and_writes_nothing(editor_client, tmp_path):
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": []}')
    response = upload(editor_client, bad, mode="append")
    job = _wait(int(response["Location"].rstrip("/").rsplit("/", 1)[1]))
    assert job.status == "failed" and "empty_source" in job.error
    assert "empty_source" in editor_client.get(f"/admin/importers/{job.pk}/").content.decode()


def test_layers_the_user_cannot_edit_are_refused(committed, users, tmp_path, settings):
    settings.IMPORTERS_UPLOAD_DIR = tmp_path / "uploads"
    client = Client()
    client.force_login(users["operator"])  # may edit field reports only
    path = _geojson(tmp_path / "t.geojson", ["OP-1"])
    response = upload(client, path, mode="append")
    assert response.status_code == 200 and "layer" in response.context["form"].errors
    assert not ImportJob.objects.filter(created_by=users["operator"]).exists()
    anonymous = Client().get("/admin/importers/")
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]


def test_jobs_are_listed_in_the_admin(db, users):
    client = Client()
    client.force_login(users["admin"])
    index = client.get("/admin/")
    assert "/admin/importers/" in index.content.decode()
    assert client.get("/admin/importers/importjob/").status_code == 200
    assert client.get("/admin/importers/").status_code == 200  # the upload page


def test_an_upload_over_the_limit_is_refused_with_what_to_do(editor_client, tmp_path, settings):
    settings.IMPORTERS_MAX_UPLOAD_BYTES = 100
    path = _geojson(tmp_path / "lon.geojson", ["BIG-1", "BIG-2"])
    before = ImportJob.objects.count()
    response = upload(editor_client, path, mode="append")
    assert response.status_code == 200  # the form again, with the error
    text = response.content.decode()
    assert "Tệp quá lớn / file too large" in text and "import_vector" in text
    assert ImportJob.objects.count() == before
