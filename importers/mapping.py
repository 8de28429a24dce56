"""Where imported features go: a target table's writable columns, their converters, and the
check of a source's fields and geometry type against it before anything is written (like
GeoDjango's ``LayerMapping.check_layer``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import connection, models

from importers.errors import (
    FieldMapError,
    FieldTypeMismatch,
    GeometryTypeMismatch,
    MissingRequiredField,
)
from importers.readers import Source


@dataclass
class Column:
    name: str  # attribute name users map to
    column: str  # database column
    sql_type: str
    convert: Callable[[Any], Any]
    kind: str  # "str" | "int" | "float" | "bool" | "date" | "datetime"
    required: bool
    default: Any = None
    has_default: bool = False


@dataclass
class Target:
    """A table features are written to; built from a registry layer or (bench) by hand."""

    label: str
    table: str
    columns: dict[str, Column]
    geometry_column: str
    geometry_type: str  # "Point", "LineString", "MultiPolygon", …
    filter: dict[str, Any] = field(default_factory=dict)  # column → value: the layer's rows
    insert_constants: dict[str, Any] = field(default_factory=dict)  # written on insert
    key: str | None = None
    layer_id: str | None = None

    @classmethod
    def for_layer(cls, layer, key: str | None = None) -> Target:
        from layers.services import editable_fields

        forced = {**layer.filter, **layer.create_defaults}
        columns = {}
        for name, model_field in editable_fields(layer).items():
            if model_field.is_relation or name in forced:
                continue
            columns[name] = column_for(model_field)

        def columns_of(values):
            return {layer.model._meta.get_field(n).column: v for n, v in values.items()}

        key = key or layer.key_field
        if key is not None and key not in columns:
            raise FieldMapError(
                f"Trường khoá “{key}” không có trong lớp {layer.id}.",
                f"Key field {key!r} is not a writable field of layer {layer.id}.",
            )
        return cls(
            label=layer.id,
            table=layer.table,
            columns=columns,
            geometry_column=layer.geometry_column,
            geometry_type=GEOMETRY_NAMES.get(layer.geometry_type.upper(), layer.geometry_type),
            filter=columns_of(layer.filter),
            insert_constants=columns_of(layer.create_defaults),
            key=key,
            layer_id=layer.id,
        )


# --- Converters -----------------------------------------------------------------------------
class BadValue(ValueError):
    pass


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value).strip()


_DATE_VN = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    if m := _DATE_VN.match(text):  # dd/mm/yyyy, the Vietnamese order
        return dt.date(int(m[3]), int(m[2]), int(m[1]))
    return dt.date.fromisoformat(text[:10])


def _datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    return dt.datetime.fromisoformat(str(value).strip())


def _int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    number = float(str(value).strip().replace(" ", "")) if not isinstance(value, float) else value
    if not number.is_integer():
        raise BadValue(f"{value!r} không phải số nguyên / is not an integer")
    return int(number)


def _float(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip().replace(" ", "")
    if text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")
    return float(text)


_TRUE = {"1", "true", "t", "yes", "y", "có", "co", "x"}
_FALSE = {"0", "false", "f", "no", "n", "không", "khong", ""}


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise BadValue(f"{value!r} không phải có/không / is not a yes/no value")


def column_for(model_field: models.Field) -> Column:
    internal = model_field.get_internal_type()
    if internal in ("CharField", "TextField", "URLField", "EmailField", "SlugField"):
        kind, base = "str", _text
    elif "Integer" in internal:
        kind, base = "int", _int
    elif internal in ("FloatField", "DecimalField"):
        kind, base = "float", _float
    elif internal == "BooleanField":
        kind, base = "bool", _bool
    elif internal == "DateField":
        kind, base = "date", _date
    elif internal == "DateTimeField":
        kind, base = "datetime", _datetime
    else:
        kind, base = "str", _text
    max_length = getattr(model_field, "max_length", None) if kind == "str" else None
    choices = {str(k): k for k, _ in model_field.flatchoices} if model_field.choices else {}
    labels = {str(label).lower(): k for k, label in model_field.flatchoices} if choices else {}
    positive = "Positive" in internal
    empty = "" if kind == "str" and model_field.blank and not model_field.null else None
    nullable = model_field.null or (kind == "str" and model_field.blank)
    name = model_field.name
    limits = [v for v in model_field.validators if hasattr(v, "limit_value")]

    def convert(value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            if not nullable:
                raise BadValue("bắt buộc, đang trống / required, empty")
            return empty
        try:
            out = base(value)
        except (ValueError, TypeError, OverflowError) as exc:
            if isinstance(exc, BadValue):
                raise
            raise BadValue(f"{value!r} không đúng kiểu {kind} / is not a valid {kind}") from None
        if choices:
            if str(out) in choices:
                out = choices[str(out)]
            elif str(out).lower() in labels:
                out = labels[str(out).lower()]
            else:
                raise BadValue(
                    f"{out!r} không thuộc các giá trị cho phép / is not one of: "
                    + ", ".join(choices)
                )
        if max_length and len(out) > max_length:
            raise BadValue(f"dài {len(out)} > {max_length} ký tự / longer than {max_length}")
        if positive and out < 0:
            raise BadValue(f"{out} < 0")
        for limit in limits:
            try:
                limit(out)
            except Exception as exc:  # Django's ValidationError
                raise BadValue(" ".join(getattr(exc, "messages", [str(exc)]))) from None
        return out

    has_default = model_field.has_default() or (kind == "str" and model_field.blank)
    default = model_field.get_default() if has_default else None
    return Column(
        name=name,
        column=model_field.column,
        sql_type=model_field.db_type(connection),
        convert=convert,
        kind=kind,
        required=not nullable and not has_default,
        default=default,
        has_default=has_default,
    )


# --- Mapping a source onto a target ---------------------------------------------------------
# Source kind → target kinds it may feed (strings are parsed value by value).
COMPATIBLE = {
    "str": {"str", "int", "float", "bool", "date", "datetime"},
    "int": {"str", "int", "float", "bool"},
    "float": {"str", "int", "float"},
    "bool": {"str", "bool", "int"},
    "date": {"str", "date", "datetime"},
    "datetime": {"str", "date", "datetime"},
    "other": {"str"},
}
GEOMETRY_FAMILIES = {
    "Point": {"Point", "MultiPoint"},
    "MultiPoint": {"Point", "MultiPoint"},
    "LineString": {"LineString", "MultiLineString"},
    "MultiLineString": {"LineString", "MultiLineString"},
    "Polygon": {"Polygon", "MultiPolygon"},
    "MultiPolygon": {"Polygon", "MultiPolygon"},
}


GEOMETRY_NAMES = {name.upper(): name for name in GEOMETRY_FAMILIES}


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def load_field_map(path: str | Path | None) -> dict[str, str | None]:
    """A field-map file: JSON or YAML ``{target_field: source_field or null}``; a value
    starting with ``=`` is a constant (``{"kind": "=xa"}``)."""
    if not path:
        return {}
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FieldMapError(
            f"Không đọc được tệp ánh xạ trường {path}: {exc}",
            f"Cannot read the field-map file {path}: {exc}",
        ) from exc
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # JSON/YAML syntax errors of several kinds
        raise FieldMapError(
            f"Tệp ánh xạ trường {path.name} sai cú pháp: {exc}",
            f"The field-map file {path.name} is malformed: {exc}",
        ) from exc
    if not isinstance(data, dict):
        raise FieldMapError(
            "Tệp ánh xạ trường phải là {trường_đích: trường_nguồn}.",
            "The field map must be an object {target_field: source_field}.",
        )
    return {str(k): (str(v) if v is not None else None) for k, v in data.items()}


@dataclass
class Mapping_:
    fields: dict[str, str]  # target name → source field
    ignored: list[str]
    defaults: dict[str, Any]  # target column → constant written on insert


def check_layer(source: Source, target: Target, field_map: Mapping[str, str | None]) -> Mapping_:
    """Map source fields onto the target and fail fast on anything that cannot work."""
    source_names = {f.name: f for f in source.fields}
    unknown_targets = sorted(set(field_map) - set(target.columns))
    if unknown_targets:
        raise FieldMapError(
            f"Ánh xạ trường nêu trường không có trong lớp {target.label}: "
            + ", ".join(unknown_targets),
            f"The field map names fields layer {target.label} does not have: "
            + ", ".join(unknown_targets),
            fields=unknown_targets,
        )
    missing_sources = sorted(
        v for v in field_map.values() if v and not v.startswith("=") and v not in source_names
    )
    if missing_sources:
        raise FieldMapError(
            "Ánh xạ trường nêu trường không có trong tệp: "
            + ", ".join(missing_sources)
            + ". Các trường có: "
            + ", ".join(source_names),
            "The field map names fields missing from the file: "
            + ", ".join(missing_sources)
            + ". The file has: "
            + ", ".join(source_names),
            fields=missing_sources,
        )
    by_norm = {}
    for name in source_names:
        by_norm.setdefault(_norm(name), name)
    mapped: dict[str, str] = {}
    for name in target.columns:
        if name in field_map:
            if field_map[name]:
                mapped[name] = field_map[name]
            continue
        hit = by_norm.get(_norm(name)) or by_norm.get(_norm(name)[:10])
        if hit and hit not in mapped.values():
            mapped[name] = hit
    mismatched = []
    for name, src in mapped.items():
        if src.startswith("="):  # a constant written to every feature
            try:
                target.columns[name].convert(src[1:])
            except BadValue as exc:
                raise FieldMapError(
                    f"Giá trị cố định cho {name} không hợp lệ: {exc}",
                    f"The constant for {name} is invalid: {exc}",
                ) from None
            continue
        kind = source_names[src].kind
        if target.columns[name].kind not in COMPATIBLE.get(kind, {"str"}):
            mismatched.append(f"{src} ({kind}) → {name} ({target.columns[name].kind})")
    if mismatched:
        raise FieldTypeMismatch(
            "Kiểu trường không khớp: " + "; ".join(mismatched),
            "Field types do not match: " + "; ".join(mismatched),
            fields=mismatched,
        )
    missing = [c.name for c in target.columns.values() if c.required and c.name not in mapped]
    if missing:
        raise MissingRequiredField(
            f"Tệp thiếu trường bắt buộc của lớp {target.label}: {', '.join(missing)}. "
            "Thêm trường đó hoặc dùng --field-map.",
            f"The file lacks required fields of layer {target.label}: {', '.join(missing)}. "
            "Add them or use --field-map.",
            fields=missing,
        )
    if source.geometry_type:
        family = GEOMETRY_FAMILIES.get(target.geometry_type)
        if family and source.geometry_type not in family:
            raise GeometryTypeMismatch(
                f"Lớp {target.label} cần {target.geometry_type}, tệp có {source.geometry_type}.",
                f"Layer {target.label} takes {target.geometry_type}; the file has "
                f"{source.geometry_type}.",
            )
    defaults = {
        c.column: c.default
        for c in target.columns.values()
        if c.name not in mapped and c.has_default
    }
    ignored = [n for n in source_names if n not in mapped.values()]
    return Mapping_(mapped, ignored, defaults)
