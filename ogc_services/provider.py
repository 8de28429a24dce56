"""pygeoapi providers reading through the layer registry (no SQLAlchemy, no second schema).

``RegistryProvider`` serves one registry layer with the same query engine as our fast
GeoJSON path (``ogc_services/query.py``); pygeoapi uses it for the HTML pages and the
OpenAPI document. ``CatalogProvider`` serves OGC API Records: one record per layer the
caller may see. Both read the caller from ``ogc_services.auth.current_caller()``.
"""

from __future__ import annotations

import json
from typing import Any

from pygeoapi.provider.base import (
    BaseProvider,
    ProviderInvalidQueryError,
    ProviderItemNotFoundError,
)

from layers.registry import registry
from ogc_services import cql, query
from ogc_services.auth import current_caller
from ogc_services.errors import OGCError

JSON_TYPES = {
    "IntegerField": "integer",
    "BigIntegerField": "integer",
    "PositiveIntegerField": "integer",
    "PositiveSmallIntegerField": "integer",
    "SmallIntegerField": "integer",
    "ForeignKey": "integer",
    "FloatField": "number",
    "DecimalField": "number",
    "BooleanField": "boolean",
}
FORMATS = {"DateTimeField": "date-time", "DateField": "date", "URLField": "uri"}


def field_schema(model_field) -> dict[str, Any]:
    kind = model_field.get_internal_type()
    schema: dict[str, Any] = {"type": JSON_TYPES.get(kind, "string")}
    if kind in FORMATS:
        schema["format"] = FORMATS[kind]
    if getattr(model_field, "choices", None):
        schema["enum"] = [value for value, _label in model_field.choices]
    if getattr(model_field, "max_length", None) and schema["type"] == "string":
        schema["maxLength"] = model_field.max_length
    schema["title"] = str(model_field.verbose_name)
    return schema


class RegistryProvider(BaseProvider):
    def __init__(self, provider_def: dict[str, Any]) -> None:
        super().__init__(provider_def)
        self.layer = registry.get(provider_def["data"])

    def _visible(self) -> tuple[str, ...]:
        return current_caller().fields(self.layer)

    def get_fields(self) -> dict[str, Any]:
        return {
            name: field_schema(f)
            for name, f in query.queryable_fields(self.layer, self._visible()).items()
        }

    def query(
        self,
        offset: int = 0,
        limit: int = 10,
        resulttype: str = "results",
        bbox: list | None = None,
        datetime_: str | None = None,
        properties: list | None = None,
        sortby: list | None = None,
        select_properties: list | None = None,
        skip_geometry: bool = False,
        filterq=None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        params: dict[str, str] = {"limit": str(limit), "offset": str(offset)}
        if bbox:
            params["bbox"] = ",".join(str(v) for v in bbox)
        if datetime_:
            params["datetime"] = datetime_
        for name, value in properties or []:
            params[name] = value
        if sortby:
            params["sortby"] = ",".join(
                ("-" if s.get("order") == "-" else "") + s["property"] for s in sortby
            )
        if select_properties:
            params["properties"] = ",".join(select_properties)
        if skip_geometry:
            params["skipGeometry"] = "true"
        try:
            items = query.parse_items(self.layer, self._visible(), params)
            if filterq is not None:
                items.q &= cql.to_q(
                    filterq,
                    {n: n for n in query.queryable_fields(self.layer, self._visible())},
                    query.served_crs(None),
                )
            page = query.fetch_page(items)
        except OGCError as exc:
            raise ProviderInvalidQueryError(user_msg=exc.description) from exc
        hits = resulttype == "hits"
        result: dict[str, Any] = {
            "type": "FeatureCollection",
            "features": [] if hits else json.loads(b"[" + page.features + b"]"),
            "numberReturned": 0 if hits else page.returned,
        }
        if page.matched is not None:
            result["numberMatched"] = page.matched
        return result

    def get(self, identifier: Any, **kwargs: Any) -> dict[str, Any]:
        pk = query.parse_pk(str(identifier))
        found = None
        if pk is not None:
            visible = query.queryable_fields(self.layer, self._visible())
            found = query.fetch_feature(self.layer, visible, query.served_crs(None), pk)
        if found is None:
            raise ProviderItemNotFoundError(user_msg="Không tìm thấy / Not found")
        return json.loads(found[0])


def layer_record(layer, base: str) -> dict[str, Any]:
    """An OGC API Records record (GeoJSON) describing one layer."""
    from ogc_services.config import layer_extent, tiles_links

    x1, y1, x2, y2 = layer_extent(layer.id)
    return {
        "id": layer.id,
        "type": "Feature",
        "conformsTo": ["http://www.opengis.net/spec/ogcapi-records-1/1.0/req/record-core"],
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[x1, y1], [x2, y1], [x2, y2], [x1, y2], [x1, y1]]],
        },
        "time": None,
        "properties": {
            "type": "dataset",
            "title": layer.title.vi,
            "title_en": layer.title.en,
            "description": layer.description.vi,
            "description_en": layer.description.en,
            "keywords": list(layer.keywords),
            "language": "vi",
            "themes": [{"concepts": [{"id": layer.group}], "scheme": "ioc-layer-groups"}],
            "formats": [{"name": "GeoJSON"}, {"name": "MVT"}],
            "rights": layer.attribution,
            "access": str(layer.access),
            "geometryType": layer.geometry_type,
        },
        "links": [
            {
                "rel": "item",
                "type": "application/geo+json",
                "title": "Features (OGC API Features)",
                "href": f"{base}/collections/{layer.id}/items",
            },
            {
                "rel": "collection",
                "type": "application/json",
                "href": f"{base}/collections/{layer.id}",
            },
            *tiles_links(base, layer),
        ],
    }


class CatalogProvider(BaseProvider):
    """OGC API Records over the registry: one record per layer the caller may see."""

    def __init__(self, provider_def: dict[str, Any]) -> None:
        super().__init__(provider_def)
        self.base = ""

    def get_fields(self) -> dict[str, Any]:
        return {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "description": {"type": "string"},
            "keywords": {"type": "string"},
        }

    def _records(self) -> list[dict[str, Any]]:
        from ogc_services.views import base_url_from_context

        caller = current_caller()
        base = base_url_from_context()
        return [
            layer_record(layer, base)
            for layer in registry.feature_layers()
            if caller.can_view(layer)
        ]

    def query(
        self, offset: int = 0, limit: int = 10, resulttype: str = "results", q=None, **kwargs
    ) -> dict[str, Any]:
        records = self._records()
        if q:
            words = [w.lower() for w in str(q).split()]
            records = [
                r
                for r in records
                if all(w in json.dumps(r["properties"], ensure_ascii=False).lower() for w in words)
            ]
        page = records[offset : offset + limit]
        return {
            "type": "FeatureCollection",
            "features": page if resulttype != "hits" else [],
            "numberMatched": len(records),
            "numberReturned": len(page) if resulttype != "hits" else 0,
        }

    def get(self, identifier: Any, **kwargs: Any) -> dict[str, Any]:
        for record in self._records():
            if record["id"] == identifier:
                return record
        raise ProviderItemNotFoundError(user_msg="Không tìm thấy / Not found")
