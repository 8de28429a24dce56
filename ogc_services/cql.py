"""CQL2 (text and JSON) → a Django ``Q`` on the layer's model, pushed down to PostGIS.

pygeofilter parses; its Django backend builds the ``Q`` (parameterised by Django, so no
literal ever reaches SQL text). We only allow the caller's visible properties and the
geometry, and move geometry literals from ``filter-crs`` to the storage CRS (EPSG:4326).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import shapely
from django.contrib.gis.geos import GEOSException, GEOSGeometry, Polygon
from django.db.models import Q
from pygeofilter import ast, values
from pygeofilter.backends.django.evaluate import DjangoFilterEvaluator
from pygeofilter.backends.evaluator import handle
from shapely.geometry import shape

from geo import crs as crs_registry
from ogc_services.errors import bad_request

GEOMETRY_NAMES = ("geometry", "geom")

# Conformance classes of Features Part 3 and CQL2 that this module implements.
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/arithmetic",
]


class _Evaluator(DjangoFilterEvaluator):
    def __init__(self, field_mapping: dict[str, str], filter_crs: crs_registry.CRSDef) -> None:
        super().__init__(field_mapping, {})
        self.filter_crs = filter_crs

    @handle(ast.Attribute)
    def attribute(self, node):
        from django.db.models import F

        if node.name not in self.field_mapping:
            raise bad_request(
                f"Thuộc tính không có hoặc không được lọc / Unknown or not queryable property: "
                f"{node.name!r}"
            )
        return F(self.field_mapping[node.name])

    def _to_storage(self, geojson: dict[str, Any]) -> GEOSGeometry:
        geom = to_crs84(shape(geojson), self.filter_crs)
        return GEOSGeometry(memoryview(geom.wkb), srid=4326)

    @handle(values.Geometry)
    def geometry(self, node):
        try:
            return self._to_storage(node.__geo_interface__)
        except (GEOSException, ValueError, TypeError, shapely.errors.ShapelyError) as exc:
            raise bad_request(
                "Hình học không hợp lệ trong bộ lọc / Invalid filter geometry"
            ) from exc

    @handle(values.Envelope)
    def envelope(self, node):
        box = Polygon.from_bbox((node.x1, node.y1, node.x2, node.y2))
        return self._to_storage(json.loads(box.geojson))


def to_crs84(geom: shapely.Geometry, source: crs_registry.CRSDef) -> shapely.Geometry:
    """A shapely geometry in ``source`` (its official axis order) → lon/lat WGS 84."""
    if source.code == "OGC:CRS84":
        return geom
    tr = crs_registry.transformer(source.code, "OGC:CRS84")
    lat_first = not source.axis_lonlat  # EPSG:4326 and EPSG:4756 list latitude first

    def move(coords: np.ndarray) -> np.ndarray:
        x, y = (coords[:, 1], coords[:, 0]) if lat_first else (coords[:, 0], coords[:, 1])
        return np.column_stack(tr.transform(x, y))

    return shapely.transform(geom, move)


def parse(text: str, lang: str | None) -> Any:
    """Parse a CQL2 filter into pygeofilter's AST; a syntax error is a 400."""
    from pygeofilter.parsers.cql2_json import parse as parse_json
    from pygeofilter.parsers.cql2_text import parse as parse_text

    lang = (lang or "cql2-text").lower()
    try:
        if lang == "cql2-text":
            return parse_text(text)
        if lang == "cql2-json":
            return parse_json(json.loads(text))
    except Exception as exc:  # noqa: BLE001 — lark/json raise many types; all mean "bad filter"
        raise bad_request(
            f"Bộ lọc CQL2 không hợp lệ / Invalid CQL2 filter ({type(exc).__name__})"
        ) from exc
    raise bad_request(f"filter-lang không hỗ trợ / Unsupported filter-lang: {lang!r}")


def to_q(tree: Any, field_mapping: dict[str, str], filter_crs: crs_registry.CRSDef) -> Q:
    """The AST as a Django Q over ``field_mapping`` (CQL name → model field)."""
    mapping = dict(field_mapping)
    for name in GEOMETRY_NAMES:
        mapping.setdefault(name, "geom")
    try:
        result = _Evaluator(mapping, filter_crs).evaluate(tree)
    except Exception as exc:
        from ogc_services.errors import OGCError

        if isinstance(exc, OGCError):
            raise
        raise bad_request(
            f"Bộ lọc CQL2 không dùng được / Unsupported CQL2 expression ({type(exc).__name__})"
        ) from exc
    if not isinstance(result, Q):
        raise bad_request("Bộ lọc phải là một điều kiện / The filter must be a predicate")
    return result
