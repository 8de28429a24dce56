"""An import started from the admin: what was uploaded, how far it got, and its report."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ImportJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Đang chờ / queued")
        RUNNING = "running", _("Đang nhập / running")
        DONE = "done", _("Xong / done")
        FAILED = "failed", _("Lỗi / failed")

    kind = models.CharField(_("loại"), max_length=10, default="vector")
    layer_id = models.CharField(_("lớp"), max_length=64)
    upload = models.CharField(_("tệp đã tải lên"), max_length=500)
    original_name = models.CharField(_("tên tệp"), max_length=255)
    options = models.JSONField(_("tuỳ chọn"), default=dict)
    status = models.CharField(
        _("trạng thái"), max_length=8, choices=Status.choices, default=Status.QUEUED
    )
    read = models.PositiveBigIntegerField(_("đã đọc"), default=0)
    total = models.PositiveBigIntegerField(_("tổng số"), null=True, blank=True)
    report = models.JSONField(_("báo cáo"), null=True, blank=True)
    report_text = models.TextField(_("báo cáo (văn bản)"), blank=True)
    error = models.TextField(_("lỗi"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("người nhập"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("tạo lúc"), auto_now_add=True)
    started_at = models.DateTimeField(_("bắt đầu"), null=True, blank=True)
    finished_at = models.DateTimeField(_("kết thúc"), null=True, blank=True)

    class Meta:
        verbose_name = _("lượt nhập dữ liệu")
        verbose_name_plural = _("lượt nhập dữ liệu")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.original_name} → {self.layer_id}"

    @property
    def percent(self) -> int | None:
        if not self.total:
            return None
        return min(100, int(100 * self.read / self.total))

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)
