"""The admin's import pages: upload a file into a layer, follow the job, download its report."""

from __future__ import annotations

import uuid
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from importers import jobs
from importers.engine import MODES
from importers.models import ImportJob
from importers.readers import READERS
from layers.registry import FeatureLayer, registry

ACCEPTED = sorted({*READERS, ".zip"})


def _editable_layers(user) -> list[FeatureLayer]:
    return [layer for layer in registry.feature_layers() if layer.can_edit(user)]


class UploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Tệp dữ liệu / Data file"),
        help_text="Shapefile (.zip), GeoPackage, GeoJSON, FlatGeobuf, KML/KMZ, CSV, XLSX",
    )
    layer = forms.ChoiceField(label=gettext_lazy("Lớp đích / Target layer"))
    mode = forms.ChoiceField(
        label=gettext_lazy("Chế độ / Mode"), choices=[(m, m) for m in MODES], initial="upsert"
    )
    key = forms.CharField(
        label=gettext_lazy("Trường khoá / Key field"),
        required=False,
        help_text=gettext_lazy("Mặc định: khoá của lớp / default: the layer's key"),
    )
    encoding = forms.CharField(label=gettext_lazy("Bảng mã / Encoding"), initial="auto")
    srs = forms.CharField(
        label=gettext_lazy("Hệ toạ độ / CRS"),
        initial="auto",
        help_text=gettext_lazy("auto hoặc / or EPSG:9213 …"),
    )
    skip_invalid = forms.BooleanField(
        label=gettext_lazy("Bỏ qua đối tượng lỗi / Skip invalid features"), required=False
    )
    dry_run = forms.BooleanField(label=gettext_lazy("Chạy thử / Dry run"), required=False)

    def __init__(self, *args, user=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["layer"].choices = [
            (layer.id, f"{layer.title} ({layer.id})") for layer in _editable_layers(user)
        ]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if Path(upload.name).suffix.lower() not in ACCEPTED:
            raise forms.ValidationError(
                _("Định dạng không hỗ trợ / unsupported format; dùng / use: %(formats)s")
                % {"formats": ", ".join(ACCEPTED)}
            )
        limit = settings.IMPORTERS_MAX_UPLOAD_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                _(
                    "Tệp quá lớn / file too large (%(size)s > %(limit)s): chia nhỏ tệp, hoặc "
                    "nhập trên máy chủ / split it, or import on the server: "
                    "python manage.py import_vector"
                )
                % {"size": filesizeformat(upload.size), "limit": filesizeformat(limit)}
            )
        return upload


def _context(request, **extra):
    return {**admin.site.each_context(request), **extra}


@staff_member_required
def upload(request):
    jobs.recover()
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES, user=request.user)
        if form.is_valid():
            data = form.cleaned_data
            if not registry.get(data["layer"]).can_edit(request.user):
                raise PermissionDenied
            folder = settings.IMPORTERS_UPLOAD_DIR / uuid.uuid4().hex
            folder.mkdir(parents=True, exist_ok=True)
            name = get_valid_filename(Path(data["file"].name).name)
            path = folder / name
            with path.open("wb") as out:
                for chunk in data["file"].chunks():
                    out.write(chunk)
            job = ImportJob.objects.create(
                layer_id=data["layer"],
                upload=str(path),
                original_name=name,
                created_by=request.user,
                options={
                    k: data[k]
                    for k in ("mode", "key", "encoding", "srs", "skip_invalid", "dry_run")
                },
            )
            jobs.start(job)
            return redirect("importers-job", pk=job.pk)
    else:
        form = UploadForm(user=request.user)
    visible = ImportJob.objects.all()
    if not request.user.is_superuser:
        visible = visible.filter(created_by=request.user)
    return render(
        request,
        "importers/upload.html",
        _context(
            request,
            form=form,
            jobs=visible[:30],
            title=_("Nhập dữ liệu / Import data"),
        ),
    )


def _job(request, pk: int) -> ImportJob:
    try:
        job = ImportJob.objects.get(pk=pk)
    except ImportJob.DoesNotExist:
        raise Http404 from None
    if not request.user.is_superuser and job.created_by_id != request.user.pk:
        raise Http404
    return job


@staff_member_required
def job_detail(request, pk: int):
    job = _job(request, pk)
    if request.GET.get("format") == "json":
        return JsonResponse(
            {
                "id": job.pk,
                "status": job.status,
                "read": job.read,
                "total": job.total,
                "percent": job.percent,
                "error": job.error,
                "report": job.report,
            }
        )
    return render(
        request,
        "importers/job.html",
        _context(
            request,
            job=job,
            title=_("Nhập dữ liệu / Import #%(pk)s") % {"pk": job.pk},
        ),
    )


@staff_member_required
def job_report(request, pk: int, fmt: str):
    job = _job(request, pk)
    if not job.report and not job.report_text:
        raise Http404
    if fmt == "json":
        import json

        body = json.dumps(job.report, ensure_ascii=False, indent=2)
        response = HttpResponse(body, content_type="application/json; charset=utf-8")
    else:
        response = HttpResponse(job.report_text, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}.{fmt}"'
    return response
