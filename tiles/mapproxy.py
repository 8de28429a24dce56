"""MapProxy embedded at /mapproxy: WMTS, TMS, WMS and OGC API Tiles + Maps for raster layers.

The configuration is generated from the registry's ``RasterLayer``s (and the optional external
basemap, ``settings.BASEMAP_URL``) and written to ``settings.MAPPROXY_DIR/mapproxy.yaml`` at
first use, so operators can read exactly what runs. Raster layers reach MapProxy through our
``riotiler`` source type, registered with MapProxy's plugin API: MapProxy asks for an image of a
bbox and ``tiles.raster.render`` draws it in-process from the COG (no HTTP round trip to
ourselves). MapProxy keeps its own file cache (``settings.MAPPROXY_CACHE_DIR``) and seeds it
with its own seeder (``seed_raster``).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import threading
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from django.http import HttpResponse

from layers.registry import RasterLayer, registry

log = logging.getLogger("tiles.mapproxy")
GRID = "webmercator"
SERVED_SRS = ["EPSG:3857", "EPSG:4326", "EPSG:900913", "CRS:84"]

_app = None
_app_key: str | None = None
_lock = threading.Lock()


# --- the riotiler source ----------------------------------------------------------------------
def _register_plugin() -> None:
    from mapproxy.config.configuration.source import (
        SourceConfiguration,
        register_source_configuration,
        source_configuration_types,
    )
    from mapproxy.config.spec import coverage, image_opts
    from mapproxy.util.ext.dictspec.spec import required

    if "riotiler" in source_configuration_types:
        return

    class RioTilerSourceConfiguration(SourceConfiguration):
        source_type = ("riotiler",)
        supports_meta_tiles = True

        def source(self, params=None):
            return RioTilerSource(
                self.conf["layer"], coverage=self.coverage(), image_opts=self.image_opts()
            )

    register_source_configuration(
        "riotiler",
        RioTilerSourceConfiguration,
        "riotiler",
        {
            required("layer"): "",
            "coverage": coverage,
            "image": image_opts,
            "seed_only": False,
            "min_res": 0.0,
            "max_res": 0.0,
        },
    )


def _source_class():
    from mapproxy.extent import DefaultMapExtent, MapExtent
    from mapproxy.image import ImageResult
    from mapproxy.layer import BlankImageError
    from mapproxy.layer.map_layer import MapLayer

    class _RioTilerSource(MapLayer):
        supports_meta_tiles = True

        def __init__(self, layer_id, coverage=None, image_opts=None):
            super().__init__(image_opts=image_opts)
            self.layer_id = layer_id
            self.coverage = coverage
            self.extent = MapExtent(coverage.bbox, coverage.srs) if coverage else DefaultMapExtent()

        def get_map(self, query):
            from PIL import Image

            from tiles import raster

            if self.coverage and not self.coverage.intersects(query.bbox, query.srs):
                raise BlankImageError()
            layer = raster.raster_layer(self.layer_id, check_access=False)
            width, height = query.size
            rgba = raster.render(layer, tuple(query.bbox), query.srs.srs_code, width, height)
            return ImageResult(
                Image.fromarray(rgba, "RGBA"), size=query.size, image_opts=self.image_opts
            )

    return _RioTilerSource


def RioTilerSource(layer_id, coverage=None, image_opts=None):  # noqa: N802 (a class factory)
    return _source_class()(layer_id, coverage=coverage, image_opts=image_opts)


# --- configuration ----------------------------------------------------------------------------
def cache_dirs(layer: RasterLayer) -> list[Path]:
    return [Path(settings.MAPPROXY_CACHE_DIR) / f"{layer.id}_{GRID}"]


def _xyz_to_mapproxy(url: str) -> str:
    return (
        url.replace("{z}", "%(z)s")
        .replace("{x}", "%(x)s")
        .replace("{y}", "%(y)s")
        .replace("{-y}", "%(tms_y)s")
    )


def config() -> dict[str, Any]:
    rasters = registry.raster_layers()
    base = Path(settings.MAPPROXY_CACHE_DIR)
    layers, caches, sources = [], {}, {}
    for layer in rasters:
        src, cache = f"{layer.id}_src", f"{layer.id}_cache"
        sources[src] = {"type": "riotiler", "layer": layer.id}
        if layer.bounds:
            sources[src]["coverage"] = {"bbox": list(layer.bounds), "srs": "EPSG:4326"}
        caches[cache] = {
            "grids": [GRID],
            "sources": [src],
            "format": "image/png",
            "meta_size": [2, 2],
            "meta_buffer": 0,
            "cache": {
                "type": "file",
                "directory_layout": "tms",
                "directory": str(cache_dirs(layer)[0]),
            },
        }
        layers.append(
            {
                "name": layer.id,
                "title": f"{layer.title.vi} / {layer.title.en}",
                "sources": [cache],
                "md": {
                    "abstract": f"{layer.description.vi} / {layer.description.en}",
                    "attribution": {"title": layer.attribution},
                },
            }
        )
    if settings.BASEMAP_URL:
        sources["basemap_src"] = {
            "type": "tile",
            "url": _xyz_to_mapproxy(settings.BASEMAP_URL),
            "grid": GRID,
            "http": {"client_timeout": 10},
        }
        caches["basemap_cache"] = {
            "grids": [GRID],
            "sources": ["basemap_src"],
            "format": "image/png",
            "cache": {
                "type": "file",
                "directory_layout": "tms",
                "directory": str(base / f"basemap_{GRID}"),
            },
        }
        layers.append(
            {
                "name": "basemap",
                "title": "Bản đồ nền / Basemap",
                "sources": ["basemap_cache"],
                "md": {
                    "attribution": {"title": settings.BASEMAP_ATTRIBUTION or settings.BASEMAP_URL}
                },
            }
        )
    title = "Thái Nguyên IOC — bản đồ raster / raster maps"
    return {
        "services": {
            "tms": {"use_grid_names": True},  # TMS rows count from the south
            "wmts": {"restful": True, "kvp": True, "md": {"title": title, "abstract": title}},
            "wms": {
                "srs": SERVED_SRS,
                "image_formats": ["image/png", "image/jpeg"],
                "md": {
                    "title": title,
                    "abstract": title,
                    "online_resource": settings.PUBLIC_URL + "/mapproxy/service",
                },
            },
            "ogcapi": {},
        },
        "layers": layers or [{"name": "empty", "title": "—", "sources": []}],
        "caches": caches,
        "sources": sources,
        "grids": {GRID: {"base": "GLOBAL_WEBMERCATOR"}},
        "globals": {
            "cache": {
                "base_dir": str(base),
                "lock_dir": str(base / "locks"),
                "tile_lock_dir": str(base / "tile_locks"),
            },
            "image": {"resampling_method": "bilinear"},
        },
    }


def config_path() -> Path:
    return Path(settings.MAPPROXY_DIR) / "mapproxy.yaml"


def write_config() -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "# Generated from the layer registry by tiles/mapproxy.py — do not edit.\n"
    text += yaml.safe_dump(config(), sort_keys=False, allow_unicode=True)
    if not path.exists() or path.read_text() != text:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return path


def app():
    """MapProxy's WSGI app for the current configuration (rebuilt when it changes)."""
    global _app, _app_key
    key = hashlib.blake2b(json.dumps(config(), sort_keys=True).encode()).hexdigest()
    if _app is None or key != _app_key:
        with _lock:
            if _app is None or key != _app_key:
                from mapproxy.wsgiapp import make_wsgi_app

                _register_plugin()
                for layer in registry.raster_layers():
                    from tiles import raster

                    raster.ensure_cog(layer)
                _app = make_wsgi_app(str(write_config()))
                _app_key = key
    return _app


def reset() -> None:
    global _app
    _app = None


_SAFE_PATH = re.compile(r"^[A-Za-z0-9_./{}%-]*$")


def serve(request, path: str) -> HttpResponse:
    """Hand the request to MapProxy as a WSGI call under SCRIPT_NAME /mapproxy."""
    if ".." in path.split("/") or not _SAFE_PATH.match(path):
        return HttpResponse(status=404)
    environ = dict(request.META)
    environ["SCRIPT_NAME"] = "/mapproxy"
    environ["PATH_INFO"] = "/" + path
    environ["wsgi.input"] = io.BytesIO(b"")
    environ.setdefault("wsgi.url_scheme", request.scheme)
    if settings.PUBLIC_URL:
        environ["HTTP_X_SCRIPT_NAME"] = "/mapproxy"
    captured: dict[str, Any] = {}

    def start_response(status, headers, exc_info=None):
        captured["status"] = int(status.split(" ", 1)[0])
        captured["headers"] = headers
        return lambda data: None

    body_iter = app()(environ, start_response)
    try:
        body = b"".join(body_iter)
    finally:
        if hasattr(body_iter, "close"):
            body_iter.close()
    response = HttpResponse(body, status=captured["status"])
    for name, value in captured["headers"]:
        if name.lower() not in {"content-length", "connection"}:
            response[name] = value
    response["Access-Control-Allow-Origin"] = "*"
    return response
