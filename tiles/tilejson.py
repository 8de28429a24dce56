"""TileJSON 3.0.0 documents for single and combined vector-tile layers."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.gis.db.models import Extent

from layers.registry import FeatureLayer
from tiles import mvt, service

NUMBER_TYPES = {
    "IntegerField",
    "BigIntegerField",
    "SmallIntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "PositiveBigIntegerField",
    "FloatField",
    "DecimalField",
    "AutoField",
    "BigAutoField",
    "ForeignKey",
}


def base_url(request) -> str:
    return settings.PUBLIC_URL or request.build_absolute_uri("/").rstrip("/")


def field_type(layer: FeatureLayer, name: str) -> str:
    kind = layer.model._meta.get_field(name).get_internal_type()
    if kind in NUMBER_TYPES:
        return "Number"
    if kind == "BooleanField":
        return "Boolean"
    return "String"


def extent(layer: FeatureLayer) -> list[float]:
    box = layer.queryset().aggregate(e=Extent(layer.geometry_field))["e"]
    return [round(v, 6) for v in box] if box else list(settings.IOC_PROVINCE_BBOX)


def vector_layers(layer: FeatureLayer, user) -> list[dict[str, Any]]:
    fields = layer.fields_for(user)
    described = {name: field_type(layer, name) for name in fields}
    out = []
    for spec in mvt.specs_for(layer, fields):
        entry = {
            "id": spec.name,
            "description": str(layer.title),
            "minzoom": max(spec.min_zoom, spec.options.min_zoom),
            "maxzoom": spec.options.max_zoom,
            "fields": dict(described),
        }
        if spec.geometry_kind == "point" and spec.options.cluster_below_zoom is not None:
            entry["fields"]["point_count"] = "Number"
        out.append(entry)
    return out


def tile_url(key: str, base: str) -> str:
    return f"{base}/tiles/{key}/{{z}}/{{x}}/{{y}}.mvt"


def tilejson(layers: list[FeatureLayer], user, base: str) -> dict[str, Any]:
    key = service.canonical_key(layers)
    boxes = [extent(layer) for layer in layers]
    bounds = [
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    ]
    minzoom = min(layer.tile_options.min_zoom for layer in layers)
    maxzoom = min(mvt.MAX_ZOOM, max(layer.tile_options.max_zoom for layer in layers))
    return {
        "tilejson": "3.0.0",
        "name": " + ".join(layer.title.vi for layer in layers),
        "description": " / ".join(str(layer.description) for layer in layers),
        "version": "1.0.0",
        "attribution": "; ".join(dict.fromkeys(layer.attribution for layer in layers)),
        "scheme": "xyz",
        "tiles": [tile_url(key, base)],
        "minzoom": minzoom,
        "maxzoom": maxzoom,
        "bounds": bounds,
        "center": [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, max(minzoom, 9)],
        "vector_layers": [v for layer in layers for v in vector_layers(layer, user)],
    }
