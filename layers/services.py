"""Service functions: the only way the application changes features.

The admin, the OGC API and the importers call these; they check permission and the
expected version (optimistic locking), validate, and write inside one transaction with the
acting user set for the database triggers — which record history and NOTIFY the tile cache.
Edits made outside the application (QGIS on PostGIS, psql) get history and notifications
from the same triggers, attributed to their database role.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django.contrib.gis.geos import GEOSGeometry
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, transaction
from django.utils.translation import gettext as _

from layers.models import FeatureHistory, FieldReport
from layers.registry import FeatureLayer, registry
from layers.reports import can_transition
from layers.validation import validate_geometry


# --- Errors: each carries its HTTP status and OGC exception code ------------------------------
class ServiceError(Exception):
    status = 400
    code = "InvalidParameterValue"

    def __init__(self, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = dict(details or {})


class InvalidFeature(ServiceError):
    status = 400
    code = "InvalidFeature"


class FeatureNotFound(ServiceError):
    status = 404
    code = "NotFound"


class EditDenied(ServiceError):
    status = 403
    code = "Forbidden"


class VersionConflict(ServiceError):
    """The caller edited a version that is no longer current (HTTP 412 Precondition Failed)."""

    status = 412
    code = "PreconditionFailed"


# --- The acting user --------------------------------------------------------------------------
def actor_name(actor: Any) -> str:
    """A user → its username; a string (a system process such as an importer) → itself."""
    if isinstance(actor, str):
        return actor
    return actor.get_username()


@contextmanager
def acting_as(
    actor: Any, using: str = "default", context: Mapping[str, str] | None = None
) -> Iterator[None]:
    """A transaction in which the database triggers record ``actor`` as the author.

    ``context`` sets further transaction-local settings the triggers read, e.g.
    ``{"ioc.status_note": "..."}`` for a field report's public status history.
    """
    values = {"ioc.actor": actor_name(actor), **(context or {})}
    with transaction.atomic(using=using):
        with connections[using].cursor() as cursor:
            for name, value in values.items():
                cursor.execute("SELECT set_config(%s, %s, true)", [name, value])
        yield


def _layer(layer: FeatureLayer | str) -> FeatureLayer:
    found = registry.get(layer) if isinstance(layer, str) else layer
    if not isinstance(found, FeatureLayer):
        raise InvalidFeature(_("Lớp %(id)s không phải lớp đối tượng.") % {"id": found.id})
    return found


def _check_can_edit(layer: FeatureLayer, actor: Any) -> None:
    if not layer.editable:
        raise EditDenied(_("Lớp %(id)s không cho phép sửa.") % {"id": layer.id})
    if isinstance(actor, str):  # trusted system process (management command, importer)
        return
    if not layer.can_edit(actor):
        raise EditDenied(_("Bạn không có quyền sửa lớp %(id)s.") % {"id": layer.id})


def editable_fields(layer: FeatureLayer) -> dict[str, Any]:
    """Attribute name → model field for what may be written (derived columns are not editable)."""
    return {
        field.name: field
        for field in layer.model._meta.concrete_fields
        if field.editable and not field.primary_key and field.name != layer.geometry_field
    }


def _apply(layer: FeatureLayer, instance, data: Mapping[str, Any], geometry) -> None:
    writable = editable_fields(layer)
    unknown = sorted(set(data) - set(writable))
    if unknown:
        raise InvalidFeature(
            _("Thuộc tính không có hoặc không được sửa: %(names)s") % {"names": ", ".join(unknown)},
            {"fields": unknown},
        )
    for name, value in data.items():
        field = writable[name]
        try:
            value = field.to_python(value) if value is not None else None
        except ValidationError as exc:
            raise InvalidFeature(
                f"{name}: {'; '.join(exc.messages)}", {name: exc.messages}
            ) from exc
        setattr(instance, field.attname, value)
    if geometry is not None:
        if isinstance(geometry, str):
            geometry = GEOSGeometry(geometry)
        problems = validate_geometry(geometry, layer.model._meta.get_field(layer.geometry_field))
        if problems:
            raise InvalidFeature("; ".join(problems), {layer.geometry_field: problems})
        if geometry.srid is None:
            geometry.srid = 4326
        setattr(instance, layer.geometry_field, geometry)


def _validate(instance) -> None:
    try:
        instance.full_clean(validate_unique=True, validate_constraints=True)
    except ValidationError as exc:
        messages = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
        summary = "; ".join(f"{k}: {' '.join(v)}" for k, v in messages.items())
        raise InvalidFeature(summary, messages) from exc


def _save(instance, **kwargs) -> None:
    try:
        with transaction.atomic():
            instance.save(**kwargs)
    except IntegrityError as exc:
        # The database enforces rules too (workflow, ranges): its message is ours, not SQL.
        cause = getattr(exc, "__cause__", None)
        primary = getattr(getattr(cause, "diag", None), "message_primary", None)
        raise InvalidFeature(primary or _("Dữ liệu vi phạm ràng buộc.")) from exc
    instance.refresh_from_db()


def _locked(layer: FeatureLayer, pk: Any):
    try:
        return layer.queryset().select_for_update(of=("self",)).get(pk=pk)
    except (layer.model.DoesNotExist, ValueError, TypeError) as exc:
        raise FeatureNotFound(
            _("Không có đối tượng %(pk)s trong lớp %(id)s.") % {"pk": pk, "id": layer.id}
        ) from exc


def _check_version(instance, expected_version: int | None) -> None:
    if expected_version is not None and int(expected_version) != instance.version:
        raise VersionConflict(
            _(
                "Đối tượng đã được người khác sửa (phiên bản hiện tại %(current)s, "
                "bạn sửa phiên bản %(expected)s). Tải lại rồi sửa tiếp."
            )
            % {"current": instance.version, "expected": expected_version},
            {"current_version": instance.version},
        )


# --- Feature edits ----------------------------------------------------------------------------
def do_create_feature(
    layer: FeatureLayer | str,
    data: Mapping[str, Any],
    geometry: GEOSGeometry | str | None,
    *,
    actor: Any,
    pk: Any = None,
    next_version: int | None = None,
):
    """Insert a feature; returns the saved instance with its derived attributes.

    ``next_version`` (restores only) continues a deleted feature's version numbering.
    """
    layer = _layer(layer)
    _check_can_edit(layer, actor)
    if geometry is None:
        raise InvalidFeature(_("Thiếu hình học (geometry)."), {layer.geometry_field: ["required"]})
    instance = layer.model(**layer.create_defaults)
    if pk is not None:
        instance.pk = pk
    _apply(layer, instance, data, geometry)
    _validate(instance)
    context = {"ioc.next_version": str(next_version)} if next_version else None
    with acting_as(actor, context=context):
        _save(instance, force_insert=True)
    return instance


def do_update_feature(
    layer: FeatureLayer | str,
    pk: Any,
    changes: Mapping[str, Any],
    *,
    geometry: GEOSGeometry | str | None = None,
    expected_version: int | None,
    actor: Any,
    replace: bool = False,
    status_note: str = "",
):
    """Change a feature. ``expected_version`` is the version the caller edited (None: don't
    check — only for trusted system processes). ``replace`` resets attributes not given.
    ``status_note`` goes into a field report's public status history."""
    layer = _layer(layer)
    _check_can_edit(layer, actor)
    if replace and geometry is None:
        raise InvalidFeature(_("Thiếu hình học (geometry)."), {layer.geometry_field: ["required"]})
    with acting_as(actor, context={"ioc.status_note": status_note}):
        instance = _locked(layer, pk)
        _check_version(instance, expected_version)
        if replace:
            blank = layer.model(**layer.create_defaults)
            for name, field in editable_fields(layer).items():
                if name not in changes:
                    setattr(instance, field.attname, getattr(blank, field.attname))
        _apply(layer, instance, changes, geometry)
        _validate(instance)
        _save(instance)
    return instance


def do_delete_feature(
    layer: FeatureLayer | str, pk: Any, *, expected_version: int | None, actor: Any
) -> None:
    layer = _layer(layer)
    _check_can_edit(layer, actor)
    with acting_as(actor):
        instance = _locked(layer, pk)
        _check_version(instance, expected_version)
        try:
            with transaction.atomic():
                instance.delete()
        except IntegrityError as exc:
            raise InvalidFeature(
                _("Không xoá được: đối tượng đang được tham chiếu (%(err)s).")
                % {"err": type(exc).__name__}
            ) from exc


def do_restore_version(
    layer: FeatureLayer | str,
    pk: Any,
    version: int,
    *,
    actor: Any,
    expected_version: int | None = None,
):
    """Bring a feature back to how it was at ``version`` (a new version; deleted ones return)."""
    layer = _layer(layer)
    _check_can_edit(layer, actor)
    snapshot = (
        FeatureHistory.objects.filter(
            table_name=layer.table, feature_id=pk, version=version, op__in=("I", "U")
        )
        .order_by("-id")
        .first()
    )
    if snapshot is None:
        raise FeatureNotFound(
            _("Không có phiên bản %(v)s của đối tượng %(pk)s.") % {"v": version, "pk": pk}
        )
    values = {}
    for name, field in editable_fields(layer).items():
        if field.attname in snapshot.new_data:
            values[name] = snapshot.new_data[field.attname]
    geometry = snapshot.new_geom
    if layer.queryset().filter(pk=pk).exists():
        return do_update_feature(
            layer,
            pk,
            values,
            geometry=geometry,
            expected_version=expected_version,
            actor=actor,
            replace=True,
        )
    # Deleted: it comes back as the version after its last one (not 1), so stale ETags and
    # forms from before the deletion stay stale.
    last = (
        FeatureHistory.objects.filter(table_name=layer.table, feature_id=pk)
        .order_by("-id")
        .values_list("version", flat=True)
        .first()
    )
    return do_create_feature(
        layer, values, geometry, actor=actor, pk=pk, next_version=(last or 0) + 1
    )


def do_transition_report(
    pk: Any, to_status: str, *, actor: Any, note: str = "", expected_version: int | None = None
) -> FieldReport:
    """Move a field report along its workflow; the note joins its public status history."""
    layer = _layer("field_reports")
    _check_can_edit(layer, actor)
    with acting_as(actor, context={"ioc.status_note": note}):
        report = _locked(layer, pk)
        _check_version(report, expected_version)
        if not can_transition(report.status, to_status):
            raise InvalidFeature(
                _("Không thể chuyển phản ánh từ “%(a)s” sang “%(b)s”.")
                % {"a": report.get_status_display(), "b": to_status}
            )
        report.status = to_status
        _save(report)
    return report


def feature_history(layer: FeatureLayer | str, pk: Any):
    layer = _layer(layer)
    return FeatureHistory.objects.filter(table_name=layer.table, feature_id=pk).order_by("id")
