"""WSGI fast paths: a few hot anonymous reads answered before Django, by Django's rules.

Like WhiteNoise for static files. ``application = FastPaths(django_app, handlers)`` (see
geo/wsgi.py) offers each request that could be answered without Django — ``GET``/``HEAD``, no
``Cookie``, no ``Authorization``, a host Django accepts, no site setting that needs Django's
middleware — to each handler in turn; a handler returns an :class:`Answer` or ``None``, and
everything nobody answers (errors included: a handler only answers the plain success) goes to
Django unchanged, which answers it by the same rules.

Handlers are the seam (``tiles/fastpath.py``: public tiles, cached or rendered;
``ogc_services/fastpath.py``: ``/items`` pages of public collections). They share the view's
own helpers for the content; what this module adds is what Django's middleware would put on
the same response (security headers, X-Frame-Options, Content-Language and Vary from the
Accept-Language header), computed from the same settings with Django's own helpers. The tests
compare both paths header by header on a real server (tests/test_tiles_fastpath.py,
tests/test_ogc_fastpath.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.http.request import split_domain_port, validate_host
from django.utils.translation import trans_real

from geo.db import read_optimistically, warm_connections

logger = logging.getLogger(__name__)

StartResponse = Callable[..., object]
WSGIApp = Callable[[dict, StartResponse], Iterable[bytes]]


@dataclass
class Answer:
    """A handler's response. ``vary`` is the view's own Vary header; ``session_read`` says
    whether Django's view would have looked at the user (then SessionMiddleware adds Cookie);
    ``after`` runs once the server has the whole response (when it closes the body)."""

    status: str
    content_type: str
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)
    vary: tuple[str, ...] = ()
    session_read: bool = False
    after: Callable[[], None] | None = None


class _Body:
    """A WSGI body that runs ``after`` when the server closes it (PEP 3333: once the body
    is handed over). Not a list: granian then sends our Content-Length as it is."""

    def __init__(self, chunks: tuple[bytes, ...], after: Callable[[], None] | None) -> None:
        self.chunks = chunks
        self.after = after

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.chunks)

    def close(self) -> None:
        after, self.after = self.after, None
        if after is not None:
            after()


Handler = Callable[[dict, "Site"], Answer | None]


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


class Site:
    """What Django's middleware does to a response, from one settings object."""

    def __init__(self, conf) -> None:
        self.wrapped = conf._wrapped  # override_settings replaces it: then a new snapshot
        self.language_code = conf.LANGUAGE_CODE
        self.languages: dict[str, str] = {}  # Accept-Language header → language
        self.memos: dict[str, dict] = {}  # per handler, dropped with the settings
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
        headers = []  # SecurityMiddleware, then XFrameOptionsMiddleware
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
        self.public_url = conf.PUBLIC_URL

    def memo(self, name: str) -> dict:
        """A handler's own memo, forgotten when the settings change."""
        return self.memos.setdefault(name, {})

    def remember[V](self, name: str, key: Any, value: V, limit: int) -> V:
        """Put ``value`` in the memo ``name``, emptied first when it holds ``limit`` entries
        (bounded: its keys come from the client's request)."""
        memo = self.memo(name)
        if len(memo) >= limit:
            memo.clear()
        memo[key] = value
        return value

    def is_secure(self, environ: dict) -> bool:
        """HttpRequest.is_secure()."""
        if self.proxy_ssl_header:
            header, secure_value = self.proxy_ssl_header
            value = environ.get(header)
            if value is not None:
                return value.split(",", 1)[0].strip() == secure_value
        return environ.get("wsgi.url_scheme") == "https"

    def host(self, environ: dict) -> str:
        """HttpRequest.get_host() before validation (no X-Forwarded-Host: see needs_django)."""
        host = environ.get("HTTP_HOST")
        if not host:
            host = environ.get("SERVER_NAME", "")
            port = str(environ.get("SERVER_PORT", ""))
            if port != ("443" if environ.get("wsgi.url_scheme") == "https" else "80"):
                host = f"{host}:{port}"
        return host

    def host_allowed(self, environ: dict) -> bool:
        """Would HttpRequest.get_host() (CommonMiddleware calls it) accept this host?"""
        host = self.host(environ)
        known = self.hosts_seen.get(host)
        if known is None:
            domain, _port = split_domain_port(host)
            known = bool(domain) and validate_host(domain, self.allowed_hosts)
            if len(self.hosts_seen) < 64:  # bounded: the header is the client's to choose
                self.hosts_seen[host] = known
        return known

    def root_url(self, environ: dict) -> str:
        """settings.PUBLIC_URL or scheme://host, as the views build absolute links."""
        if self.public_url:
            return self.public_url
        return f"{'https' if self.is_secure(environ) else 'http'}://{self.host(environ)}"

    def response_headers(
        self, environ: dict, vary: tuple[str, ...], session_read: bool
    ) -> list[tuple[str, str]]:
        # patch_vary_headers, inside out: the view's, LocaleMiddleware's, SessionMiddleware's
        varies = list(vary)
        for name in ("Accept-Language", "Cookie") if session_read else ("Accept-Language",):
            if name not in varies:
                varies.append(name)
        headers = [*self.headers, ("Vary", ", ".join(varies))]
        headers.append(("X-Frame-Options", self.x_frame_options))
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


_site: Site | None = None


def current_site() -> Site:
    """The snapshot for the current settings (override_settings swaps the settings object)."""
    global _site
    if _site is None or _site.wrapped is not settings._wrapped:
        _site = Site(settings)
    return _site


def eligible(environ: dict, site: Site) -> bool:
    """Could any fast path answer this request as Django would? Cheap checks first."""
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
        return False
    if "HTTP_COOKIE" in environ or "HTTP_AUTHORIZATION" in environ or site.needs_django:
        return False
    if site.ssl_redirect and not site.is_secure(environ):
        return False  # SecurityMiddleware redirects
    return site.host_allowed(environ)  # else Django answers 400 (DisallowedHost)


def read_database[T](read: Callable[[], T], what: str) -> T | None:
    """``read()`` within Django's request cycle for connections (``close_old_connections``
    before and after, as the request_started/request_finished signals do, so CONN_MAX_AGE
    holds), with the optimistic health check of ``geo.db.read_optimistically``. A database
    error that remains is logged and gives None: the handler then hands the request to
    Django, which answers it (or reports the error) itself. The connection is one of the
    worker's warm ones (``geo.db.warm_connections``). Inside a transaction (a test's), the
    cycle is skipped, as Django's test client skips it: it would close the connection."""
    with warm_connections.lend():
        cycle = not connection.in_atomic_block
        if cycle:
            close_old_connections()
        try:
            return read_optimistically(read)
        except DatabaseError:
            logger.exception("fast path: database error, handing %s to Django", what)
            return None
        finally:
            if cycle:
                close_old_connections()


class FastPaths:
    """WSGI middleware: ``FastPaths(get_wsgi_application(), (handler, ...))``."""

    def __init__(self, app: WSGIApp, handlers: Iterable[Handler]) -> None:
        self.app = app
        self.handlers = tuple(handlers)

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        site = current_site()
        answer = None
        if eligible(environ, site):
            for handler in self.handlers:
                answer = handler(environ, site)
                if answer is not None:
                    break
        if answer is None:
            return self.app(environ, start_response)
        headers = [
            ("Content-Type", answer.content_type),
            *answer.headers,
            *site.response_headers(environ, answer.vary, answer.session_read),
        ]
        if answer.status.startswith("304"):
            # As Django sends its empty 304 (HttpResponse defaults, CommonMiddleware's length).
            start_response(answer.status, [*headers, ("Content-Length", "0")])
            return _Body((b"",), answer.after)  # not a list: granian keeps our Content-Length
        start_response(answer.status, [*headers, ("Content-Length", str(len(answer.body)))])
        chunks = () if environ["REQUEST_METHOD"] == "HEAD" else (answer.body,)
        if answer.after is not None:
            return _Body(chunks, answer.after)
        return list(chunks)
