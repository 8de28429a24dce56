"""The Django admin for GIS staff: every layer editable on an offline map, through the services.

Saves and deletes go through ``layers.services`` (history, permissions, optimistic locking);
the form carries the version the editor opened, so a concurrent edit is refused, not lost.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.gis import admin as gis_admin
from django.contrib.gis.forms.widgets import OpenLayersWidget
from django.core.exceptions import PermissionDenied
from django.db.models import URLField
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from layers import models as m
from layers import services
from layers.registry import FeatureLayer, registry


class OfflineMapWidget(OpenLayersWidget):
    """GeoDjango's OpenLayers widget with OpenLayers served by us and our own layers as the
    background (the province's communes), so it works with no internet."""

    template_name = "layers/widgets/offline_map.html"
    default_lon = 105.85
    default_lat = 21.85
    default_zoom = 9

    class Media:
        extend = False  # the parent's Media points at a CDN
        css = {"all": ("vendor/ol/ol.css", "gis/css/ol3.css")}
        js = ("vendor/ol/ol.js", "gis/js/OLMapWidget.js")

    def __init__(self, attrs=None) -> None:
        super().__init__()
        self.attrs.update(
            default_lon=self.default_lon,
            default_lat=self.default_lat,
            default_zoom=self.default_zoom,
        )
        if attrs:
            self.attrs.update(attrs)

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["background_url"] = reverse("admin-background")
        return context


class FeatureForm(forms.ModelForm):
    # The version the editor opened; compared under a row lock when saving.
    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["expected_version"].initial = self.instance.version


def layer_of(obj_or_model) -> FeatureLayer:
    """The registry layer an admin object belongs to (admin units: by their layer column)."""
    model = obj_or_model if isinstance(obj_or_model, type) else type(obj_or_model)
    layers = registry.for_model(model)
    layer_id = getattr(obj_or_model, "layer", None) if not isinstance(obj_or_model, type) else None
    for layer in layers:
        if layer.id == layer_id:
            return layer
    return layers[0]


class FeatureAdmin(gis_admin.GISModelAdmin):
    """Base admin of a published layer."""

    form = FeatureForm
    gis_widget = OfflineMapWidget
    # Stream and snapshot URLs are https (Django 6's default; say it now).
    formfield_overrides = {URLField: {"assume_scheme": "https"}}
    readonly_fields = ("version", "created_at", "created_by", "updated_at", "updated_by")
    history_template = "layers/admin/feature_history.html"
    list_per_page = 50

    def _changes(self, form) -> dict:
        geometry_field = self.model.geometry_field
        return {
            name: form.cleaned_data[name]
            for name in form.changed_data
            if name not in {geometry_field, "expected_version"} and name in form.cleaned_data
        }

    def save_model(self, request, obj, form, change) -> None:
        geometry_field = self.model.geometry_field
        geometry = form.cleaned_data.get(geometry_field)
        try:
            if change:
                saved = services.do_update_feature(
                    layer_of(obj),
                    obj.pk,
                    self._changes(form),
                    geometry=geometry if geometry_field in form.changed_data else None,
                    expected_version=form.cleaned_data.get("expected_version"),
                    actor=request.user,
                )
            else:
                data = {
                    name: value
                    for name, value in form.cleaned_data.items()
                    if name in services.editable_fields(layer_of(obj)) and value not in (None, "")
                }
                saved = services.do_create_feature(
                    layer_of(obj), data, geometry, actor=request.user
                )
        except services.ServiceError as exc:
            # Shown on the form's page; nothing was written (the service is transactional).
            raise _AdminServiceError(exc) from exc
        obj.pk = saved.pk
        obj.refresh_from_db()

    def delete_model(self, request, obj) -> None:
        services.do_delete_feature(
            layer_of(obj), obj.pk, expected_version=obj.version, actor=request.user
        )

    def delete_queryset(self, request, queryset) -> None:
        for obj in queryset:
            self.delete_model(request, obj)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except _AdminServiceError as exc:
            self.message_user(request, exc.error.message, level=messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    # --- history and restore -----------------------------------------------------------------
    def get_urls(self):
        info = self.model._meta.app_label, self.model._meta.model_name
        return [
            path(
                "<path:object_id>/restore/<int:version>/",
                self.admin_site.admin_view(self.restore_view),
                name="{}_{}_restore".format(*info),
            ),
            *super().get_urls(),
        ]

    def history_view(self, request, object_id, extra_context=None):
        obj = get_object_or_404(self.model, pk=object_id)
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        layer = layer_of(obj)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Lịch sử thay đổi: %s") % obj,
            "object": obj,
            "opts": self.model._meta,
            "history": services.feature_history(layer, obj.pk),
            "can_restore": layer.can_edit(request.user),
        }
        return TemplateResponse(request, self.history_template, context)

    def restore_view(self, request, object_id, version):
        if request.method != "POST":
            return HttpResponseRedirect("../../history/")
        obj = get_object_or_404(self.model, pk=object_id)
        try:
            services.do_restore_version(layer_of(obj), obj.pk, version, actor=request.user)
        except services.ServiceError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)
        else:
            self.message_user(request, _("Đã khôi phục phiên bản %s.") % version)
        return HttpResponseRedirect("../../history/")


class _AdminServiceError(Exception):
    def __init__(self, error: services.ServiceError) -> None:
        super().__init__(error.message)
        self.error = error


@admin.register(m.AdminUnit)
class AdminUnitAdmin(FeatureAdmin):
    list_display = ("full_name", "code", "kind", "level", "generation", "population", "layer")
    list_filter = ("layer", "level", "generation", "kind")
    search_fields = ("name", "full_name", "code")
    readonly_fields = (*FeatureAdmin.readonly_fields, "layer")
    raw_id_fields = ("parent",)


@admin.register(m.Camera)
class CameraAdmin(FeatureAdmin):
    list_display = ("code", "name", "kind", "purpose", "status", "last_seen_at", "commune")
    list_filter = ("status", "kind", "purpose", "access_level")
    search_fields = ("code", "name", "address")
    readonly_fields = (*FeatureAdmin.readonly_fields, "commune")


@admin.register(m.School)
class SchoolAdmin(FeatureAdmin):
    list_display = ("name", "code", "level", "ownership", "pupils", "commune")
    list_filter = ("level", "ownership")
    search_fields = ("name", "code")
    readonly_fields = (*FeatureAdmin.readonly_fields, "commune")


@admin.register(m.HealthFacility)
class HealthFacilityAdmin(FeatureAdmin):
    list_display = ("name", "code", "kind", "beds", "staff", "commune")
    list_filter = ("kind", "ownership")
    search_fields = ("name", "code")
    readonly_fields = (*FeatureAdmin.readonly_fields, "commune")


@admin.register(m.TrafficNode)
class TrafficNodeAdmin(FeatureAdmin):
    list_display = ("code", "name", "kind", "status", "commune")
    list_filter = ("kind", "status")
    search_fields = ("code", "name")
    readonly_fields = (*FeatureAdmin.readonly_fields, "commune")
    raw_id_fields = ("road",)


@admin.register(m.RoadSegment)
class RoadSegmentAdmin(FeatureAdmin):
    list_display = ("code", "name", "road_ref", "road_class", "congestion", "length_m")
    list_filter = ("road_class", "congestion")
    search_fields = ("code", "name", "road_ref")
    readonly_fields = (*FeatureAdmin.readonly_fields, "length_m")


class StatusChangeInline(admin.TabularInline):
    model = m.FieldReportStatusChange
    extra = 0
    can_delete = False
    readonly_fields = ("from_status", "to_status", "changed_at", "changed_by", "note")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(m.FieldReport)
class FieldReportAdmin(FeatureAdmin):
    list_display = (
        "tracking_code",
        "title",
        "category",
        "status",
        "submitted_at",
        "due_at",
        "commune",
    )
    list_filter = ("status", "category")
    search_fields = ("tracking_code", "title", "description", "address")
    date_hierarchy = "submitted_at"
    readonly_fields = (*FeatureAdmin.readonly_fields, "commune", "resolved_at")
    inlines = [StatusChangeInline]


@admin.register(m.CommuneCrosswalk)
class CommuneCrosswalkAdmin(admin.ModelAdmin):
    list_display = ("old_name", "old_code", "old_district_name", "new_unit", "merge_type")
    list_filter = ("merge_type", "old_province_code")
    search_fields = ("old_name", "old_code", "new_unit__name")
    raw_id_fields = ("new_unit", "old_district")


@admin.register(m.FeatureHistory)
class FeatureHistoryAdmin(admin.ModelAdmin):
    list_display = ("changed_at", "layer", "feature_id", "op", "version", "actor", "db_role")
    list_filter = ("layer", "op", "db_role")
    search_fields = ("actor", "feature_id")
    date_hierarchy = "changed_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
