"""Getting a vector tile for a caller: access, audience, cache, rendering.

Views, the seeder and the benchmark all come through ``get_tile``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from layers.registry import Access, FeatureLayer, UnknownLayer, registry
from tiles import mvt
from tiles.cache import BoundedMemo, TileCacheBase, get_cache


class TileNotFound(LookupError):
    """Unknown layer, or one the caller may not see (both answer 404: no existence leak)."""


def resolve_layers(key: str, user) -> list[FeatureLayer]:
    """Layer ids joined by commas → the layers, each visible to ``user`` and tiled."""
    if key.startswith("{") and key.endswith("}"):  # /tiles/{a,b,c}/… (URL-template style)
        key = key[1:-1]
    ids = key.split(",")
    if not ids or len(ids) != len(set(ids)) or len(ids) > 32:
        raise TileNotFound(key)
    layers = []
    for layer_id in ids:
        try:
            layer = registry.get(layer_id)
        except UnknownLayer:
            raise TileNotFound(layer_id) from None
        if not (isinstance(layer, FeatureLayer) and layer.supports_vector_tiles):
            raise TileNotFound(layer_id)
        if not layer.can_view(user):
            raise TileNotFound(layer_id)
        layers.append(layer)
    return layers


def canonical_key(layers: list[FeatureLayer]) -> str:
    """Combined keys in registry order, so a,b and b,a share one cache entry."""
    order = {layer_id: i for i, layer_id in enumerate(registry.ids())}
    return ",".join(sorted((layer.id for layer in layers), key=order.__getitem__))


def layer_audience(layer: FeatureLayer, user) -> str:
    if layer.restricted_fields and layer.can_view_restricted_fields(user):
        return "full"
    return "public"


def audience(layers: list[FeatureLayer], user) -> str:
    """Which attribute set the caller gets: ``public``, ``basic``, ``full`` or a mix per layer.

    ``public`` holds only what anyone may get (public attributes of public layers): nginx serves
    that cache directory to anonymous requests without asking us (``deploy/nginx.conf``).
    ``basic`` is the same attribute set for a key with a non-public layer (internal or
    restricted), which only callers allowed to see that layer get.
    """
    per_layer = [layer_audience(layer, user) for layer in layers]
    with_private = [
        a for a, layer in zip(per_layer, layers, strict=True) if layer.restricted_fields
    ]
    if all(a == "public" for a in with_private):
        if all(layer.access == Access.PUBLIC for layer in layers):
            return "public"
        return "basic"
    if all(a == "full" for a in with_private):
        return "full"
    return "mix-" + "".join(a[0] for a in per_layer)


def is_public(layers: list[FeatureLayer], audience_name: str) -> bool:
    """May shared caches (browsers of other people, proxies) keep this tile?"""
    return audience_name == "public" and all(layer.access == Access.PUBLIC for layer in layers)


def etag_of(data: bytes) -> str:
    return '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"'


# Hashing a tile for its ETag costs ~1 µs per KB (a 400 KB tile: 0.4 ms, more than the rest of
# a cache hit); comparing bytes costs a fiftieth of that. So each worker remembers the last
# bytes and ETag per address and hashes only bytes it has not seen: still etag_of(bytes).
_etags = BoundedMemo(32 * 1024 * 1024)


def tile_etag(address: tuple, data: bytes) -> str:
    """etag_of(data) for the tile at ``address`` (key, audience, z, x, y), remembered."""
    known = _etags.get(address)
    if known is not None and known[1] == data:
        return known[0]
    etag = etag_of(data)
    _etags.put(address, etag, data)
    return etag


@dataclass
class Tile:
    data: bytes
    etag: str
    hit: bool
    public: bool
    key: str
    audience: str
    # A miss's cache write, left to the caller (``render_tile(store_later=True)``) to run once
    # the response is out; None when there is nothing left to do.
    store: Callable[[], None] | None = None


def render(layers: list[FeatureLayer], user_fields: dict[str, tuple[str, ...]], z, x, y) -> bytes:
    specs = []
    for layer in layers:
        specs.extend(mvt.layer_specs(layer, user_fields[layer.id]))
    return mvt.render_specs(specs, z, x, y)


def get_tile(
    key: str,
    user,
    z: int,
    x: int,
    y: int,
    *,
    cache: TileCacheBase | None = None,
    store_later: bool = False,
) -> Tile:
    """The tile for this caller, from the cache or rendered (and then cached; with
    ``store_later``, cached by ``Tile.store``, which the caller runs after answering).

    Raises ``TileNotFound`` (→ 404) and ``ValueError`` for an address off the grid (→ 400).
    """
    layers = resolve_layers(key, user)
    mvt.check_tile_address(z, x, y)
    cache = cache or get_cache()
    key = canonical_key(layers)
    aud = audience(layers, user)
    hit = cached_tile(cache, key, aud, is_public(layers, aud), z, x, y)
    if hit is not None:
        return hit
    return render_tile(layers, user, key, aud, z, x, y, cache=cache, store_later=store_later)


def cached_tile(
    cache: TileCacheBase, key: str, aud: str, public: bool, z: int, x: int, y: int
) -> Tile | None:
    """The hit of ``get_tile`` (also tiles/fastpath.py's): the cached tile, or None."""
    data = cache.load(key, aud, z, x, y)
    if data is None:
        return None
    return Tile(data, tile_etag((key, aud, z, x, y), data), True, public, key, aud)


def render_tile(
    layers: list[FeatureLayer],
    user,
    key: str,
    aud: str,
    z: int,
    x: int,
    y: int,
    *,
    cache: TileCacheBase,
    store_later: bool = False,
) -> Tile:
    """A miss of ``get_tile`` (resolved ``layers``, their canonical ``key`` and the caller's
    audience ``aud``): rendered for ``user``, stored, and dropped again should an invalidation
    of these layers have come while it rendered.

    ``store_later``: the storing is left to the caller as ``Tile.store``, to run once the
    response is out (the views and the fast path run it when the WSGI server closes the
    response). Creating a file and its directories cost 0.3–0.6 ms each on this machine's
    disk, a fifth of an average uncached tile, and the client need not wait for it; the
    epochs read before rendering still decide, after the write, whether to drop it again."""
    epochs = [cache.epoch(layer.id) for layer in layers]
    data = render(layers, {layer.id: layer.fields_for(user) for layer in layers}, z, x, y)

    def store() -> None:
        cache.store(key, aud, z, x, y, data)
        # An invalidation of these layers since we began: our snapshot may predate that edit.
        if [cache.epoch(layer.id) for layer in layers] != epochs:
            cache.remove(key, aud, z, x, y)

    if not store_later:
        store()
    public = is_public(layers, aud)
    etag = tile_etag((key, aud, z, x, y), data)
    return Tile(data, etag, False, public, key, aud, store if store_later else None)
