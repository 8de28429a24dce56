"""Import jobs in the admin index (read-only); the app's index URL, /admin/importers/, is the
upload page itself (importers/urls.py comes before the admin's URLs)."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from importers.models import ImportJob


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "original_name",
        "layer_id",
        "status",
        "read",
        "created_by",
        "created_at",
        "page",
    )
    list_filter = ("status", "layer_id")
    readonly_fields = [f.name for f in ImportJob._meta.fields]

    @admin.display(description=_("Chi tiết / details"))
    def page(self, job: ImportJob) -> str:
        return format_html('<a href="{}">#{}</a>', reverse("importers-job", args=[job.pk]), job.pk)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.filter(created_by=request.user)
