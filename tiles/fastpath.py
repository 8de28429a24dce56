"""Fast path for anonymous requests of public vector tiles (a handler of geo/fastpath.py).

``GET``/``HEAD /tiles/<key>/<z>/<x>/<y>.mvt`` with every layer of ``key`` public and the
anonymous audience ``public`` is answered before Django: a hit from the configured cache
(``tiles.cache.get_cache()``, any backend) with no database at all, a miss rendered and
cached by ``service.render_tile`` as Django's view does (without Django's request and nine
middleware: ~0.3–0.8 ms of a tile), the cache write once the response is out. Everything
else (bad input, a non-public layer, any credentials, a database error) goes to Django
unchanged, which answers it by the same rules.

The tile rules are not copied: the lookup uses ``tiles/service.py`` (resolve_layers with an
anonymous user, canonical_key, audience, is_public, tile_etag) and the response
``tiles/views.py`` (suspicious, parse_zxy, tile_headers, etag_matches);
tests/test_tiles_fastpath.py compares both paths header by header on a real server.

Invalidation needs nothing here: every request reads the cache, which ``listen_changes`` and
the service functions prune, so a tile removed after an edit is a miss, rendered afresh.
"""

from __future__ import annotations

import re

from django.contrib.auth.models import AnonymousUser

from geo.fastpath import Answer, Site, read_database
from layers.registry import FeatureLayer, registry
from tiles import mvt, service
from tiles.cache import InvalidTileAddress, get_cache
from tiles.views import MVT_TYPE, etag_matches, parse_zxy, suspicious, tile_headers

# The route of tiles.views.vector_tile ("tiles-mvt" in tiles/urls.py); "combined" is its own
# route there and is never a layer id, so it falls through like any unknown key.
TILE_PATH = re.compile(r"^/tiles/([^/]+)/([^/]+)/([^/]+)/([^/]+?)\.mvt$")


class _WatchedAnonymous:
    """An anonymous user that notes whether the rules looked at it. In Django, looking at the
    lazy ``request.user`` reads the session, and SessionMiddleware then adds ``Vary: Cookie``."""

    def __init__(self) -> None:
        self.looked = False
        self._user = AnonymousUser()

    def __getattr__(self, name: str):
        self.looked = True
        return getattr(self._user, name)

    def __bool__(self) -> bool:
        self.looked = True
        return True


def _public_key(key: str, site: Site) -> tuple[list[FeatureLayer], str, str, bool] | None:
    """(layers, canonical key, audience, whether the rules looked at the user) if an anonymous
    caller may get ``key`` from shared caches (every layer public, audience ``public``), else
    None.
    Remembered per key string while the registry holds the same layer declarations."""
    keys = site.memo("tiles")
    known = keys.get(key)
    if known is not None:
        layers, found = known
        if registry.holds(layers):
            return None if found is None else (list(layers), *found)
    user = _WatchedAnonymous()
    try:
        layers = service.resolve_layers(key, user)
    except service.TileNotFound:
        return None
    audience = service.audience(layers, user)
    found = None
    if service.is_public(layers, audience):
        found = (service.canonical_key(layers), audience, user.looked)
    if len(keys) < 1024:  # bounded: the key is the client's to choose
        keys[key] = (tuple(layers), found)
    return None if found is None else (layers, *found)


def _public_address(
    path: str, site: Site
) -> tuple[tuple[FeatureLayer, ...], str, str, bool, tuple[int, int, int]] | None:
    """(layers, canonical key, audience, whether the rules looked at the user, (z, x, y)) of a
    tile URL path an anonymous caller may get from shared caches, else None. Checked by the
    view's own rules (suspicious, parse_zxy, check_tile_address, ``_public_key``), remembered per
    path while the registry holds the same layer declarations: a hit then costs a dictionary
    lookup here instead of ~10 µs of parsing (a third of a hit in process)."""
    known = site.memo("tile-paths").get(path)
    if known is not None and registry.holds(known[0]):
        return known
    match = TILE_PATH.match(path)
    if match is None:
        return None
    key, z, x, y = match.groups()
    if suspicious(key, z, x, y):
        return None
    address = parse_zxy(z, x, y)
    if address is None:
        return None
    try:
        mvt.check_tile_address(*address)
    except ValueError:
        return None
    public = _public_key(key, site)
    if public is None:
        return None
    layers, canonical, audience, session_read = public
    found = (tuple(layers), canonical, audience, session_read, address)
    return site.remember("tile-paths", path, found, 8192)


def public_tile(path: str, site: Site) -> tuple[service.Tile, bool] | None:
    """The tile an anonymous caller would get for this URL path (and whether Django's view
    would have read the session), if every layer is public: from the cache, or on a miss
    rendered (and cached once the response is out): ``service.cached_tile`` and
    ``service.render_tile``, the two branches of the view's ``service.get_tile``. None when
    Django has to answer (bad input, not public, a database error)."""
    public = _public_address(path, site)
    if public is None:
        return None
    layers, canonical, audience, session_read, address = public
    cache = get_cache()
    try:
        hit = service.cached_tile(cache, canonical, audience, True, *address)
    except InvalidTileAddress:
        return None
    if hit is not None:
        return hit, session_read
    tile = read_database(
        lambda: service.render_tile(
            list(layers),
            AnonymousUser(),
            canonical,
            audience,
            *address,
            cache=cache,
            store_later=True,
        ),
        path,
    )
    return None if tile is None else (tile, session_read)


def answer(environ: dict, site: Site) -> Answer | None:
    """The fast path's response to an eligible request (geo.fastpath.eligible), or None."""
    found = public_tile(environ.get("PATH_INFO", ""), site)
    if found is None:
        return None
    tile, session_read = found
    if etag_matches(environ.get("HTTP_IF_NONE_MATCH", ""), tile.etag):
        # As Django sends its empty 304 (HttpResponse's default content type)
        content_type = f"text/html; charset={site.charset}"
        return Answer(
            "304 Not Modified", content_type, b"", tile_headers(tile), (), session_read, tile.store
        )
    return Answer("200 OK", MVT_TYPE, tile.data, tile_headers(tile), (), session_read, tile.store)
