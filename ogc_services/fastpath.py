"""Fast path for anonymous /items pages of public collections (a handler of geo/fastpath.py).

``GET /ogc/collections/<id>/items`` as GeoJSON, without credentials, on a collection an
anonymous caller may see, is answered before Django: the same parsing (``query.parse_items``
with the anonymous caller's fields), the same statement and body (``views.items_body``), the
same headers — without Django's request, URL resolution and nine middleware (~0.45 ms of the
~1.7 ms such a page costs). Anything else goes to Django unchanged: HTML, HEAD, the catalogue,
unknown or non-public collections, and every request the parser refuses (Django then answers
with the OGC exception). tests/test_ogc_fastpath.py compares both paths on a real server.

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
from ogc_services import query
from ogc_services.auth import Caller
from ogc_services.config import CATALOG_ID
from ogc_services.errors import OGCError
from ogc_services.views import (
    GEOJSON,
    VARY,
    collection_layer,
    items_body,
    items_params,
    response_format,
)

# The route of views.items (ogc_services/urls.py, under /ogc in geo/urls.py)
ITEMS_PATH = re.compile(r"^/ogc/collections/([^/]+)/items$")
ANONYMOUS = Caller(AnonymousUser())


def answer(environ: dict, site: Site) -> Answer | None:
    """The fast path's response to an eligible request (geo.fastpath.eligible), or None."""
    if environ["REQUEST_METHOD"] != "GET":
        return None  # HEAD: Django's answer (its body-less GET) is the reference
    match = ITEMS_PATH.match(environ.get("PATH_INFO", ""))
    if match is None:
        return None
    if match.group(1) == CATALOG_ID:
        return None
    try:
        layer = collection_layer(ANONYMOUS, match.group(1))
        # Django's parsing (WSGIRequest.GET: the raw bytes, its field limit)
        get = QueryDict(environ.get("QUERY_STRING", "").encode("iso-8859-1"))
        if response_format(get.get("f") or "", environ.get("HTTP_ACCEPT", "")) != "json":
            return None
        params = items_params(get)
        parsed = query.parse_items(layer, ANONYMOUS.fields(layer), params)
    except (OGCError, SuspiciousOperation):
        return None  # Django answers with the OGC exception (404, 400) or its own 400
    body = read_database(
        lambda: items_body(f"{site.root_url(environ)}/ogc", params, parsed), environ["PATH_INFO"]
    )
    if body is None:
        return None
    headers = [("Content-Crs", f"<{parsed.crs.uri}>")]
    return Answer("200 OK", GEOJSON, body, headers, VARY)
