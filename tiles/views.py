"""HTTP: vector tiles, TileJSON, the MapLibre style, raster tiles, MapProxy. Views stay thin."""

from __future__ import annotations

import re

from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from tiles import service, tilejson

MVT_TYPE = "application/vnd.mapbox-vector-tile"
_TRAVERSAL = re.compile(r"(^|[/\\])\.\.?($|[/\\])|[\x00/\\~%]|^\.")


def _error(status: int, message_vi: str, message_en: str) -> JsonResponse:
    return JsonResponse(
        {
            "code": {400: "InvalidParameterValue", 404: "NotFound"}.get(status, "Error"),
            "description": f"{message_vi} / {message_en}",
        },
        status=status,
    )


def _not_found(what: str) -> JsonResponse:
    return _error(404, f"Không có lớp hoặc ô bản đồ “{what}”.", f"No layer or tile “{what}”.")


def suspicious(*segments: str) -> bool:
    """A segment trying to climb out of the cache (.., slashes, encoded bytes, dot files)."""
    return any(_TRAVERSAL.search(s) or s.startswith(".") for s in segments)


def parse_zxy(z: str, x: str, y: str) -> tuple[int, int, int] | None:
    if not all(s.isascii() and s.isdigit() and len(s) <= 9 for s in (z, x, y)):
        return None
    return int(z), int(x), int(y)


def _cache_headers(response: HttpResponse, tile: service.Tile) -> HttpResponse:
    response["ETag"] = tile.etag
    # Edits reach the cache within a second: clients keep the tile but revalidate (304).
    response["Cache-Control"] = ("public" if tile.public else "private") + ", no-cache"
    if not tile.public:
        response["Vary"] = "Cookie, Authorization"
    response["X-Tile-Cache"] = "hit" if tile.hit else "miss"
    response["Access-Control-Allow-Origin"] = "*"
    return response


def _matches(request, etag: str) -> bool:
    header = request.headers.get("If-None-Match", "")
    if not header:
        return False
    if header.strip() == "*":
        return True
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return etag in tags


@require_GET
def vector_tile(request, layer: str, z: str, x: str, y: str):
    """/tiles/<layer or a,b,c>/<z>/<x>/<y>.mvt"""
    if suspicious(layer, z, x, y):
        return _not_found(layer)
    address = parse_zxy(z, x, y)
    if address is None:
        return _error(
            400,
            "z, x, y phải là số nguyên không âm.",
            "z, x and y must be non-negative integers.",
        )
    try:
        tile = service.get_tile(layer, request.user, *address)
    except service.TileNotFound:
        return _not_found(layer)
    except ValueError as exc:
        return _error(400, f"Ô bản đồ ngoài lưới: {exc}", f"Tile outside the grid: {exc}")
    if _matches(request, tile.etag):
        return _cache_headers(HttpResponse(status=304), tile)
    response = HttpResponse(tile.data, content_type=MVT_TYPE)
    return _cache_headers(response, tile)


@require_GET
def combined_tile(request, z: str, x: str, y: str):
    """/tiles/combined/<z>/<x>/<y>.mvt?layers=a,b,c"""
    layers = request.GET.get("layers", "")
    if not layers:
        return _error(400, "Thiếu tham số layers.", "The layers parameter is missing.")
    return vector_tile(request, layers, z, x, y)


@require_GET
def tilejson_view(request, layer: str):
    """/tiles/<layer or a,b,c>.json — TileJSON 3.0.0"""
    if suspicious(layer):
        return _not_found(layer)
    try:
        layers = service.resolve_layers(layer, request.user)
    except service.TileNotFound:
        return _not_found(layer)
    doc = tilejson.tilejson(layers, request.user, tilejson.base_url(request))
    response = JsonResponse(doc, json_dumps_params={"ensure_ascii": False})
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "private, max-age=60"
    return response


@require_GET
def style_view(request):
    """/styles/ioc.json — the MapLibre style of every layer the caller may see."""
    from tiles import style

    doc = style.style_document(request.user, tilejson.base_url(request), request.GET.get("lang"))
    response = JsonResponse(doc, json_dumps_params={"ensure_ascii": False})
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "private, max-age=60"
    return response


@require_GET
def raster_tile(request, layer: str, z: str, x: str, y: str):
    """/tiles/raster/<layer>/<z>/<x>/<y>.png — rendered straight from the COG (rio-tiler)."""
    from tiles import raster

    if suspicious(layer, z, x, y):
        return _not_found(layer)
    address = parse_zxy(z, x, y)
    if address is None:
        return _error(400, "z, x, y phải là số nguyên.", "z, x and y must be integers.")
    try:
        png = raster.xyz_png(layer, request.user, *address)
    except raster.RasterNotFound:
        return _not_found(layer)
    except ValueError as exc:
        return _error(400, f"Ô bản đồ ngoài lưới: {exc}", f"Tile outside the grid: {exc}")
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "public, max-age=3600"
    response["Access-Control-Allow-Origin"] = "*"
    return response


def mapproxy_view(request, path: str = ""):
    """/mapproxy/… — MapProxy's WSGI app (WMTS, TMS, WMS, OGC API Tiles + Maps)."""
    from tiles import mapproxy

    if request.method not in ("GET", "HEAD"):
        return _error(405, "Chỉ hỗ trợ GET.", "Only GET is supported.")
    return mapproxy.serve(request, path)
