"""A WSGI layer in front of Django that answers anonymous hits of public vector tiles itself.

Like WhiteNoise for static files: ``GET``/``HEAD /tiles/<key>/<z>/<x>/<y>.mvt`` with no
``Cookie`` and no ``Authorization`` header, every layer of ``key`` public, the anonymous
audience ``public`` and the tile in the configured cache (``tiles.cache.get_cache()``, any
backend) is answered here — no Django request, no middleware, no database. Everything else (a
miss, bad input, a non-public layer, any credentials, other paths, a host Django would refuse)
goes to Django unchanged, which answers it by the same rules.

The tile rules are not copied: the lookup uses ``tiles/service.py`` (resolve_layers with an
anonymous user, canonical_key, audience, is_public, tile_etag) and the response
``tiles/views.py`` (suspicious, parse_zxy, tile_headers, etag_matches). What this module adds
is the handful of headers Django's middleware would put on the same response (security
headers, X-Frame-Options, Content-Language and Vary from the Accept-Language header, Vary:
Cookie where the rules look at the user), computed from the same settings with Django's own
helpers; tests/test_tiles_fastpath.py compares both paths header by header on a real server.

Invalidation needs nothing here: every request reads the cache, which ``listen_changes`` and
the service functions prune, so a tile removed after an edit falls through to Django (a miss).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.request import split_domain_port, validate_host
from django.utils.translation import trans_real

from layers.registry import UnknownLayer, registry
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


StartResponse = Callable[..., object]
WSGIApp = Callable[[dict, StartResponse], Iterable[bytes]]


def _language(accept: str, language_code: str) -> str:
    """django.utils.translation.get_language_from_request for a request without cookies and
    without i18n URL patterns (geo/urls.py has none)."""
    language = None
    for code, _quality in trans_real.parse_accept_lang_header(accept):
        if code == "*":
            break
        if not trans_real.language_code_re.search(code):
            continue
        try:
            language = trans_real.get_supported_language_variant(code)
            break
        except LookupError:
            continue
    if language is None:
        try:
            language = trans_real.get_supported_language_variant(language_code)
        except LookupError:
            language = language_code
    return language


class _Site:
    """What Django's middleware does to a tile response, from one settings object."""

    def __init__(self, conf) -> None:
        self.wrapped = conf._wrapped  # override_settings replaces it: then a new snapshot
        self.language_code = conf.LANGUAGE_CODE
        self.languages: dict[str, str] = {}  # Accept-Language header → language
        self.keys: dict[str, tuple] = {}  # tile key → (its layers, _public_key's answer)
        self.proxy_ssl_header = conf.SECURE_PROXY_SSL_HEADER
        self.ssl_redirect = conf.SECURE_SSL_REDIRECT
        # CommonMiddleware's rarer duties (and X-Forwarded-Host): leave those requests to Django
        self.needs_django = bool(
            conf.DISALLOWED_USER_AGENTS or conf.PREPEND_WWW or conf.USE_X_FORWARDED_HOST
        )
        allowed = conf.ALLOWED_HOSTS
        if conf.DEBUG and not allowed:
            allowed = [".localhost", "127.0.0.1", "[::1]"]
        self.allowed_hosts = list(allowed)
        self.hosts_seen: dict[str, bool] = {}
        self.hsts = None
        if conf.SECURE_HSTS_SECONDS:
            self.hsts = f"max-age={conf.SECURE_HSTS_SECONDS}"
            if conf.SECURE_HSTS_INCLUDE_SUBDOMAINS:
                self.hsts += "; includeSubDomains"
            if conf.SECURE_HSTS_PRELOAD:
                self.hsts += "; preload"
        headers = []  # SecurityMiddleware, LocaleMiddleware (Vary), XFrameOptionsMiddleware
        if conf.SECURE_CONTENT_TYPE_NOSNIFF:
            headers.append(("X-Content-Type-Options", "nosniff"))
        policy = conf.SECURE_REFERRER_POLICY
        if policy:
            if isinstance(policy, str):
                policy = [v.strip() for v in policy.split(",")]
            headers.append(("Referrer-Policy", ",".join(policy)))
        if conf.SECURE_CROSS_ORIGIN_OPENER_POLICY:
            headers.append(("Cross-Origin-Opener-Policy", conf.SECURE_CROSS_ORIGIN_OPENER_POLICY))
        self.headers = headers
        self.x_frame_options = getattr(conf, "X_FRAME_OPTIONS", "DENY").upper()
        self.charset = conf.DEFAULT_CHARSET

    def is_secure(self, environ: dict) -> bool:
        """HttpRequest.is_secure()."""
        if self.proxy_ssl_header:
            header, secure_value = self.proxy_ssl_header
            value = environ.get(header)
            if value is not None:
                return value.split(",", 1)[0].strip() == secure_value
        return environ.get("wsgi.url_scheme") == "https"

    def host_allowed(self, environ: dict) -> bool:
        """Would HttpRequest.get_host() (CommonMiddleware calls it) accept this host?"""
        host = environ.get("HTTP_HOST")
        if not host:
            host = environ.get("SERVER_NAME", "")
            port = str(environ.get("SERVER_PORT", ""))
            if port != ("443" if environ.get("wsgi.url_scheme") == "https" else "80"):
                host = f"{host}:{port}"
        known = self.hosts_seen.get(host)
        if known is None:
            domain, _port = split_domain_port(host)
            known = bool(domain) and validate_host(domain, self.allowed_hosts)
            if len(self.hosts_seen) < 64:  # bounded: the header is the client's to choose
                self.hosts_seen[host] = known
        return known

    def response_headers(self, environ: dict, session_read: bool) -> list[tuple[str, str]]:
        # Vary: LocaleMiddleware's, then SessionMiddleware's (outer) if the view read the user
        vary = "Accept-Language, Cookie" if session_read else "Accept-Language"
        headers = [*self.headers, ("Vary", vary), ("X-Frame-Options", self.x_frame_options)]
        if self.hsts and self.is_secure(environ):
            headers.append(("Strict-Transport-Security", self.hsts))
        accept = environ.get("HTTP_ACCEPT_LANGUAGE", "")
        language = self.languages.get(accept)
        if language is None:
            language = _language(accept, self.language_code)
            if len(self.languages) < 256:  # bounded: the header is the client's to choose
                self.languages[accept] = language
        headers.append(("Content-Language", language))
        return headers


_site: _Site | None = None


def _current_site() -> _Site:
    """The snapshot for the current settings (override_settings swaps the settings object)."""
    global _site
    if _site is None or _site.wrapped is not settings._wrapped:
        _site = _Site(settings)
    return _site


def _eligible(environ: dict, site: _Site) -> re.Match | None:
    """Cheap checks first: method, credentials, path, site settings that need Django."""
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
        return None
    if "HTTP_COOKIE" in environ or "HTTP_AUTHORIZATION" in environ:
        return None
    match = TILE_PATH.match(environ.get("PATH_INFO", ""))
    if match is None or site.needs_django:
        return None
    if site.ssl_redirect and not site.is_secure(environ):
        return None  # SecurityMiddleware redirects
    if not site.host_allowed(environ):
        return None  # Django answers 400 (DisallowedHost)
    return match


def _public_key(key: str, site: _Site) -> tuple[str, str, bool] | None:
    """(canonical key, audience, whether the rules looked at the user) if an anonymous caller
    may get ``key`` from shared caches (every layer public, audience ``public``), else None.
    Remembered per key string while the registry holds the same layer declarations."""
    known = site.keys.get(key)
    if known is not None:
        layers, found = known
        try:
            if all(registry.get(layer.id) is layer for layer in layers):
                return found
        except UnknownLayer:
            pass
    user = _WatchedAnonymous()
    try:
        layers = service.resolve_layers(key, user)
    except service.TileNotFound:
        return None
    audience = service.audience(layers, user)
    found = None
    if service.is_public(layers, audience):
        found = (service.canonical_key(layers), audience, user.looked)
    if len(site.keys) < 1024:  # bounded: the key is the client's to choose
        site.keys[key] = (tuple(layers), found)
    return found


def cached_public_tile(
    key: str, z: str, x: str, y: str, site: _Site
) -> tuple[service.Tile, bool] | None:
    """The cached tile an anonymous caller would get for this address (and whether Django's
    view would have read the session), if it is public and in the cache; None when Django has
    to answer (bad input, not public, a miss)."""
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
    key, audience, session_read = public
    try:
        data = get_cache().load(key, audience, *address)
    except InvalidTileAddress:
        return None
    if data is None:
        return None
    etag = service.tile_etag((key, audience, *address), data)
    return service.Tile(data, etag, True, True, key, audience), session_read


class TileFastPath:
    """WSGI middleware: ``application = TileFastPath(get_wsgi_application())``."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        site = _current_site()
        match = _eligible(environ, site)
        found = cached_public_tile(*match.groups(), site) if match else None
        if found is None:
            return self.app(environ, start_response)
        tile, session_read = found
        headers = tile_headers(tile) + site.response_headers(environ, session_read)
        if etag_matches(environ.get("HTTP_IF_NONE_MATCH", ""), tile.etag):
            # As Django sends its empty 304 (HttpResponse defaults, CommonMiddleware's length).
            content_type = f"text/html; charset={site.charset}"
            start_response(
                "304 Not Modified",
                [("Content-Type", content_type), *headers, ("Content-Length", "0")],
            )
            return iter((b"",))  # an iterator: granian keeps our Content-Length
        start_response(
            "200 OK",
            [("Content-Type", MVT_TYPE), *headers, ("Content-Length", str(len(tile.data)))],
        )
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [tile.data]
