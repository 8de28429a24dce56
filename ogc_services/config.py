"""pygeoapi's configuration, generated from the layer registry (no hand-kept YAML).

The API object and its OpenAPI document are built once per process for each *visibility
profile* (the set of collections a caller may see: anonymous, staff, operators …), so a
caller never finds a collection it may not see in ``/collections`` or ``/openapi``.
There are only a handful of profiles in practice; each is built on first use.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

from django.conf import settings

from geo import crs as crs_registry
from layers.registry import FeatureLayer, registry

CATALOG_ID = "catalog"
PROVIDER = "ogc_services.provider.RegistryProvider"
CATALOG_PROVIDER = "ogc_services.provider.CatalogProvider"


@cache
def layer_extent(layer_id: str) -> list[float]:
    from ogc_services.query import extent

    layer = registry.get(layer_id)
    try:
        found = extent(layer)
    except Exception:  # noqa: BLE001 — no table yet (before migrate): fall back to the province
        found = None
    return found or list(settings.IOC_PROVINCE_BBOX)


def tiles_links(base: str, layer: FeatureLayer) -> list[dict[str, Any]]:
    root = base.removesuffix("/ogc")
    links = [
        {
            "type": "application/vnd.mapbox-vector-tile",
            "rel": "item",
            "title": "Vector tiles (MVT)",
            "href": f"{root}/tiles/{layer.id}/{{z}}/{{x}}/{{y}}.mvt",
            "templated": True,
        },
        {
            "type": "application/json",
            "rel": "describedby",
            "title": "TileJSON",
            "href": f"{root}/tiles/{layer.id}.json",
        },
        {
            "type": "application/vnd.mapbox.style+json",
            "rel": "http://www.opengis.net/def/rel/ogc/1.0/styles",
            "title": "Kiểu trình bày / Style",
            "href": f"{root}/styles/ioc.json",
        },
    ]
    return links if layer.supports_vector_tiles else links[2:]


def resource(base: str, layer: FeatureLayer) -> dict[str, Any]:
    served = [crs_registry.lookup(code).uri for code in crs_registry.SERVED_CRS]
    return {
        "type": "collection",
        "title": layer.title.as_dict(),
        "description": layer.description.as_dict(),
        "keywords": list(layer.keywords),
        "links": tiles_links(base, layer),
        "extents": {
            "spatial": {"bbox": layer_extent(layer.id), "crs": crs_registry.CRS84_URI},
        },
        "providers": [
            {
                "type": "feature",
                "name": PROVIDER,
                "data": layer.id,
                "id_field": "id",
                "time_field": layer.temporal_field,
                "crs": served,
                "storage_crs": crs_registry.CRS84_URI,
                "editable": layer.editable,
                "title_field": "name" if "name" in layer.public_fields else None,
            }
        ],
    }


def build_config(base: str, visible: tuple[str, ...]) -> dict[str, Any]:
    resources: dict[str, Any] = {
        layer.id: resource(base, layer)
        for layer in registry.feature_layers()
        if layer.id in visible
    }
    resources[CATALOG_ID] = {
        "type": "collection",
        "title": {"vi": "Danh mục lớp dữ liệu", "en": "Layer catalogue"},
        "description": {
            "vi": "Bản ghi siêu dữ liệu (OGC API Records) của mỗi lớp bạn được xem.",
            "en": "One OGC API Records record per layer you may see.",
        },
        "keywords": ["catalogue", "danh mục", "metadata"],
        "links": [],
        "extents": {"spatial": {"bbox": list(settings.IOC_PROVINCE_BBOX)}},
        "providers": [
            {"type": "record", "name": CATALOG_PROVIDER, "data": CATALOG_ID, "id_field": "id"}
        ],
    }
    return {
        "server": {
            "bind": {"host": "127.0.0.1", "port": 0},
            "url": base,
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "gzip": False,
            "languages": ["vi", "en"],
            "pretty_print": False,
            "admin": False,
            "limits": {
                "default_items": settings.OGC_DEFAULT_LIMIT,
                "max_items": settings.OGC_MAX_LIMIT,
                "on_exceed": "throttle",
            },
            "map": {
                "url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                "attribution": "&copy; OpenStreetMap contributors",
            },
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {
                "title": {
                    "vi": "Dịch vụ OGC API — IOC Thái Nguyên",
                    "en": "OGC API services — Thái Nguyên IOC",
                },
                "description": {
                    "vi": "Dữ liệu không gian của Trung tâm điều hành thông minh tỉnh Thái Nguyên.",
                    "en": "Spatial data of the Thái Nguyên Intelligent Operations Center.",
                },
                "keywords": {"vi": ["IOC", "Thái Nguyên", "GIS"], "en": ["IOC", "Thai Nguyen"]},
                "keywords_type": "theme",
                "terms_of_service": "https://creativecommons.org/licenses/by/4.0/",
                "url": base,
            },
            "license": {"name": "CC-BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
            "provider": {"name": "UBND tỉnh Thái Nguyên (IOC)", "url": base},
            "contact": {
                "name": "Trung tâm IOC",
                "position": "GIS",
                "address": "Thái Nguyên",
                "city": "Thái Nguyên",
                "country": "Việt Nam",
                "email": "ioc@example.invalid",
                "role": "pointOfContact",
            },
        },
        "resources": resources,
    }


FEATURE_ID = {
    "name": "featureId",
    "in": "path",
    "required": True,
    "description": "Mã đối tượng / Feature identifier",
    "schema": {"type": "string"},
}


def _self_contained(node: Any) -> Any:
    """Inline the remote ``$ref``s pygeoapi emits, so offline clients (and schemathesis) can
    read the whole document: the featureId parameter, and the CQL2 JSON schema as an object."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("http"):
            if ref.endswith("/parameters/featureId"):
                return dict(FEATURE_ID)
            return {"type": "object"}
        return {key: _self_contained(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_self_contained(value) for value in node]
    return node


_LOCK = threading.Lock()
_APIS: dict[tuple[str, tuple[str, ...]], Any] = {}


def get_api(base: str, visible: tuple[str, ...]):
    """The pygeoapi ``API`` for this base URL and visibility profile (built once)."""
    key = (base, visible)
    api = _APIS.get(key)
    if api is not None:
        return api
    with _LOCK:
        api = _APIS.get(key)
        if api is None:
            from pygeoapi.api import API
            from pygeoapi.openapi import get_oas

            config = build_config(base, visible)
            document = _self_contained(get_oas(config, fail_on_invalid_collection=False))
            api = API(config, document)
            _APIS[key] = api
    return api
