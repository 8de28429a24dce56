"""Precise invalidation: an edit's old and new bounding boxes remove exactly the cached tiles
(every zoom, every audience, single and combined keys) whose query envelope they meet.

The rule mirrors ``tiles/mvt.py``: a tile's query envelope is the tile grown by
``query_margin`` (its MVT buffer, or nothing when points are clustered) and a row is drawn in
it iff its bounding box meets that envelope. PostGIS compares float4-rounded boxes, so boxes
are grown by ``EPSILON_DEG`` (a few float4 ulps at these coordinates) to stay on the safe side.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from typing import Any

from layers.registry import FeatureLayer, registry
from tiles import mvt
from tiles.cache import TileCacheBase, get_cache, layers_of

log = logging.getLogger("tiles.invalidation")

EPSILON_DEG = 2e-5
MAX_LAT = 85.0511287798066
Bbox = tuple[float, float, float, float]


def _merc_tile_units(lon: float, lat: float, z: int) -> tuple[float, float]:
    """Fractional tile coordinates (x from the west, y from the north) of a lon/lat."""
    n = 2**z
    lat = max(-MAX_LAT, min(MAX_LAT, lat))
    u = (lon + 180.0) / 360.0 * n
    phi = math.radians(lat)
    v = (1.0 - math.log(math.tan(phi) + 1.0 / math.cos(phi)) / math.pi) / 2.0 * n
    return u, v


def tile_range(bbox: Bbox, z: int, margin: float, epsilon: float = EPSILON_DEG) -> tuple[int, ...]:
    """(xmin, ymin, xmax, ymax) of the tiles at ``z`` whose envelope grown by ``margin``
    (a fraction of the tile side) meets ``bbox`` (lon/lat, grown by ``epsilon`` degrees)."""
    minx, miny, maxx, maxy = bbox
    u0, v1 = _merc_tile_units(minx - epsilon, miny - epsilon, z)
    u1, v0 = _merc_tile_units(maxx + epsilon, maxy + epsilon, z)
    top = 2**z - 1
    xmin = max(0, math.ceil(u0 - 1 - margin))
    xmax = min(top, math.floor(u1 + margin))
    ymin = max(0, math.ceil(v0 - 1 - margin))
    ymax = min(top, math.floor(v1 + margin))
    return xmin, ymin, xmax, ymax


def layer_margin(layer: FeatureLayer, z: int) -> float:
    return max(mvt.query_margin(spec, z) for spec in mvt.specs_for(layer, ()))


def ranges_for(
    layer_ids: Iterable[str], boxes: Iterable[Bbox], max_zoom: int = mvt.MAX_ZOOM
) -> dict[int, list[tuple[int, int, int, int]]]:
    layers = [registry.get(i) for i in layer_ids]
    out: dict[int, list[tuple[int, int, int, int]]] = {}
    boxes = list(boxes)
    for z in range(max_zoom + 1):
        margin = max(layer_margin(layer, z) for layer in layers)
        out[z] = [tile_range(b, z, margin) for b in boxes]
    return out


def invalidate(
    layer_id: str, boxes: Iterable[Bbox | None], cache: TileCacheBase | None = None
) -> int:
    """Remove the cached tiles of every key showing ``layer_id`` that ``boxes`` touch."""
    cache = cache or get_cache()
    if layer_id not in registry or not isinstance(registry.get(layer_id), FeatureLayer):
        return 0
    boxes = [tuple(b) for b in boxes if b]
    # Bump first, delete second: a render that started before the edit either sees the new
    # epoch after storing (and drops its tile) or stored before we delete.
    cache.bump_epoch(layer_id)
    if not boxes:
        return 0
    removed = 0
    for key in cache.keys_with_layer(layer_id):
        members = [i for i in layers_of(key) if i in registry]
        per_zoom = ranges_for(members, boxes)
        for i in range(len(boxes)):
            removed += cache.remove_ranges(key, {z: r[i] for z, r in per_zoom.items()})
    return removed


def handle_change(payload: Mapping[str, Any], cache: TileCacheBase | None = None) -> int:
    """Apply one change (a NOTIFY payload or a history row with the same keys)."""
    boxes = [payload.get("old_bbox"), payload.get("new_bbox")]
    layer_ids = {payload.get("layer"), payload.get("old_layer")} - {None, ""}
    removed = 0
    for layer_id in sorted(layer_ids):
        removed += invalidate(layer_id, boxes, cache)
    return removed
