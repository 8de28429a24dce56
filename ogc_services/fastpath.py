"""Fast path for anonymous /items pages of public collections (a handler of geo/fastpath.py).

``GET /ogc/collections/<id>/items`` as GeoJSON, without credentials, on a collection an
anonymous caller may see, is answered before Django: the same parsing (``query.parse_items``
with the anonymous caller's fields, remembered per query string), the same statement and body
(``views.items_plan``, ``views.items_body``), the same headers — without Django's request,
URL resolution and nine middleware (~0.45 ms of the ~1.7 ms such a page costs). Anything
else goes to Django unchanged: HTML, HEAD, the catalogue, unknown or non-public collections,
and every request the parser refuses (Django then answers with the OGC exception).
tests/test_ogc_fastpath.py compares both paths on a real server.

The page is read through ``geo.fastpath.read_database``: Django's connection cycle, an
optimistic health check (a dropped connection is replaced and the page read again), and a
remaining database error logged and handed to Django.
"""

from __future__ import annotations

import re

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import SuspiciousOperation
from django.http import QueryDict

from geo.fastpath import Answer, Site, read_database
from layers.registry import registry
from ogc_services import query
from ogc_services.auth import Caller
from ogc_services.config import CATALOG_ID
from ogc_services.errors import OGCError
from ogc_services.views import (
    GEOJSON,
    VARY,
    ItemsPlan,
    collection_layer,
    items_body,
    items_params,
    items_plan,
    response_format,
)

# The route of views.items (ogc_services/urls.py, under /ogc in geo/urls.py)
ITEMS_PATH = re.compile(r"^/ogc/collections/([^/]+)/items$")
ANONYMOUS = Caller(AnonymousUser())


def _plan(root_url: str, collection_id: str, query_string: str) -> tuple[ItemsPlan, str] | None:
    """(plan, its ``f`` parameter) of an anonymous page request, or None when Django has to
    answer it (an unknown or non-public collection, a refused parameter)."""
    try:
        layer = collection_layer(ANONYMOUS, collection_id)
        # Django's parsing (WSGIRequest.GET: the raw bytes, its field limit)
        get = QueryDict(query_string.encode("iso-8859-1"))
        f = get.get("f") or ""
        response_format(f, "")  # an unsupported f: Django's 400
        params = items_params(get)
        parsed = query.parse_items(layer, ANONYMOUS.fields(layer), params)
    except (OGCError, SuspiciousOperation):
        return None  # Django answers with the OGC exception (404, 400) or its own 400
    return items_plan(f"{root_url}/ogc", params, parsed), f


def answer(environ: dict, site: Site) -> Answer | None:
    """The fast path's response to an eligible request (geo.fastpath.eligible), or None.

    The plan of a page (parsed parameters, statement, links) depends only on the root URL, the
    collection's declaration and the query string, so it is remembered per those (bounded)
    while the registry holds the same layer: a repeated request (a map panning back, a client
    paging again) skips ~70 µs of parsing and SQL building, half of our Python in a page."""
    if environ["REQUEST_METHOD"] != "GET":
        return None  # HEAD: Django's answer (its body-less GET) is the reference
    match = ITEMS_PATH.match(environ.get("PATH_INFO", ""))
    if match is None or match.group(1) == CATALOG_ID:
        return None
    key = (site.root_url(environ), match.group(1), environ.get("QUERY_STRING", ""))
    known = site.memo("ogc-items").get(key)
    if known is None or not registry.holds((known[0].parsed.layer,)):
        known = _plan(*key)
        if known is None:
            return None
        site.remember("ogc-items", key, known, 4096)
    plan, f = known
    if response_format(f, environ.get("HTTP_ACCEPT", "")) != "json":
        return None
    body = read_database(lambda: items_body(plan), environ["PATH_INFO"])
    if body is None:
        return None
    headers = [("Content-Crs", f"<{plan.parsed.crs.uri}>")]
    return Answer("200 OK", GEOJSON, body, headers, VARY)
