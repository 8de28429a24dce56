"""HTTP: vector tiles, TileJSON, the MapLibre style, raster tiles, MapProxy. Views stay thin.

Every view answers GET and HEAD. Anonymous hits of public vector tiles are usually answered
before Django by tiles/fastpath.py, which shares this module's helpers.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_safe

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


def tile_headers(tile: service.Tile) -> list[tuple[str, str]]:
    """The caching and CORS headers of a tile response (this view and tiles/fastpath.py)."""
    # Edits reach the cache within a second: clients keep the tile but revalidate (304).
    headers = [
        ("ETag", tile.etag),
        ("Cache-Control", ("public" if tile.public else "private") + ", no-cache"),
    ]
    if not tile.public:
        headers.append(("Vary", "Cookie, Authorization"))
    headers += [
        ("X-Tile-Cache", "hit" if tile.hit else "miss"),
        ("Access-Control-Allow-Origin", "*"),
    ]
    return headers


class TileResponse(HttpResponse):
    """A tile's response; a miss's cache write (``Tile.store``) runs when it is closed: WSGI
    servers close a response once its body is handed over, Django's test client before it
    returns it."""

    after: Callable[[], None] | None = None

    def close(self) -> None:
        try:
            super().close()
        finally:
            after, self.after = self.after, None
            if after is not None:
                after()


def _cache_headers(response: TileResponse, tile: service.Tile) -> TileResponse:
    for name, value in tile_headers(tile):
        response[name] = value
    response.after = tile.store
    return response


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Does an If-None-Match header value name ``etag`` (weakly, as RFC 9110 compares)?"""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return etag in tags


@require_safe
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
        tile = service.get_tile(layer, request.user, *address, store_later=True)
    except service.TileNotFound:
        return _not_found(layer)
    except ValueError as exc:
        return _error(400, f"Ô bản đồ ngoài lưới: {exc}", f"Tile outside the grid: {exc}")
    # META, not request.headers: that builds a dict of every header to read this one
    if etag_matches(request.META.get("HTTP_IF_NONE_MATCH", ""), tile.etag):
        return _cache_headers(TileResponse(status=304), tile)
    return _cache_headers(TileResponse(tile.data, content_type=MVT_TYPE), tile)


@require_safe
def combined_tile(request, z: str, x: str, y: str):
    """/tiles/combined/<z>/<x>/<y>.mvt?layers=a,b,c"""
    layers = request.GET.get("layers", "")
    if not layers:
        return _error(400, "Thiếu tham số layers.", "The layers parameter is missing.")
    return vector_tile(request, layers, z, x, y)


@require_safe
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


@require_safe
def style_view(request):
    """/styles/ioc.json — the MapLibre style of every layer the caller may see."""
    from tiles import style

    doc = style.style_document(request.user, tilejson.base_url(request), request.GET.get("lang"))
    response = JsonResponse(doc, json_dumps_params={"ensure_ascii": False})
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "private, max-age=60"
    return response


@require_safe
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
