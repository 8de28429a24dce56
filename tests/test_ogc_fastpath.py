"""ogc_services/fastpath.py: anonymous /items pages of public collections answered before Django.

Against the real server (granian on the test database, geo.wsgi as `make run` serves it): the
fast path's pages equal Django's for the same request (a request carrying any Cookie header
always goes to Django, by the same rules, so it is the reference), non-public collections and
bad requests get Django's answers, and a dropped database connection costs no failed request.
An in-process check pins which requests the fast path takes.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import requests
from django.contrib.gis.geos import Point
from django.db import connection

from layers import services
from ogc_services import fastpath
from tests.conftest import FastPathProbe

DJANGO = {"Cookie": "ioc_probe=1"}  # any cookie: the request goes to Django
NOT_COMPARED = {"date", "server"}  # granian's own
STAMP = re.compile(rb'"timeStamp": "[^"]+"')  # the second the page was written


def headers(response) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items() if k.lower() not in NOT_COMPARED}


def taken(response) -> None:
    """The request a real server answered is one the fast path answers itself (the comparison
    with Django proves nothing if the fast path handed it over): asked again in process."""
    parts = urlsplit(response.url)
    status, _, body = FastPathProbe(fastpath.answer)(parts.path, query=parts.query)
    assert status == "200 OK" and body != b"django", response.url


def same(fast, django) -> None:
    assert fast.status_code == django.status_code
    assert STAMP.sub(b"", fast.content) == STAMP.sub(b"", django.content)
    assert headers(fast) == headers(django)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?limit=3",
        "?bbox=105.7,21.5,105.9,21.7&limit=5",
        "?bbox=105.7,21.5,105.9,21.7&limit=2&offset=2",
        "?limit=4&sortby=-name&properties=name,code",
        "?limit=2&crs=http://www.opengis.net/def/crs/EPSG/0/9213",
        "?limit=2&skipGeometry=true&f=json",
        "?filter=name LIKE 'Trường%'&limit=3",
        "?limit=2&f=geojson&lang=en",
    ],
)
def test_fast_path_equals_django(live_url, committed, query):
    url = f"{live_url}/ogc/collections/schools/items{query}"
    taken(requests.get(url, timeout=30))
    for language in (None, "en", "fr"):
        extra = {"Accept-Language": language} if language else {}
        fast = requests.get(url, headers=extra, timeout=30)
        django = requests.get(url, headers={**extra, **DJANGO}, timeout=30)
        assert fast.status_code == 200, fast.text
        same(fast, django)
        assert fast.headers["Content-Type"] == "application/geo+json"
        assert "Accept-Language" in fast.headers["Vary"]


def test_restricted_fields_stay_hidden(live_url, committed):
    """Field reports are public with restricted fields (reporter contact): the anonymous page
    is the same on both paths and has none of them."""
    url = f"{live_url}/ogc/collections/field_reports/items?limit=20"
    fast = requests.get(url, timeout=30)
    taken(fast)
    same(fast, requests.get(url, headers=DJANGO, timeout=30))
    assert fast.json()["features"]
    for feature in fast.json()["features"]:
        assert not {"reporter_name", "reporter_phone", "reporter_email"} & set(
            feature["properties"]
        )


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/ogc/collections/cameras/items", 404),  # restricted
        ("/ogc/collections/traffic_nodes/items", 404),  # internal
        ("/ogc/collections/nowhere/items", 404),
        ("/ogc/collections/schools/items?bbox=1,2,3", 400),
        ("/ogc/collections/schools/items?bbox=105,21,106,91", 400),
        ("/ogc/collections/schools/items?limit=abc", 400),
        ("/ogc/collections/schools/items?sortby=password", 400),
        ("/ogc/collections/schools/items?filter=name%3D'x' OR 1=1; DROP TABLE x", 400),
        ("/ogc/collections/schools/items?f=xml", 400),
    ],
)
def test_refusals_are_djangos(live_url, path, status):
    fast = requests.get(live_url + path, timeout=30)
    assert fast.status_code == status
    assert fast.json()["code"] and fast.json()["description"]
    same(fast, requests.get(live_url + path, headers=DJANGO, timeout=30))


def test_html_and_head_are_djangos(live_url):
    url = f"{live_url}/ogc/collections/schools/items?limit=2"
    html = requests.get(url, headers={"Accept": "text/html"}, timeout=30)
    assert html.status_code == 200 and html.headers["Content-Type"].startswith("text/html")
    head = requests.head(url, timeout=30)
    assert head.status_code == 200 and head.content == b""


def test_edits_show_at_once(live_url, committed):
    """Nothing is cached on this path: the page after an edit has it."""
    school = services.do_create_feature(
        "schools",
        {"code": "FAST-OGC-1", "name": "Trường đường nhanh OGC", "level": "thcs"},
        Point(105.8412, 21.5923, srid=4326),
        actor="test",
    )
    url = f"{live_url}/ogc/collections/schools/items?bbox=105.841,21.592,105.842,21.593"
    ids = [f["id"] for f in requests.get(url, timeout=30).json()["features"]]
    assert school.pk in ids


def test_a_dropped_connection_costs_no_request(live_url, committed):
    """The server's database connections are terminated (a PostgreSQL restart, a pooler
    recycling): the fast path's failed read goes to Django, which reconnects and answers."""
    url = f"{live_url}/ogc/collections/schools/items?limit=3"
    assert requests.get(url, timeout=30).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend'"
        )
    for _ in range(8):  # every connection the workers held (own and lent) was dropped
        response = requests.get(url, timeout=30)
        assert response.status_code == 200 and len(response.json()["features"]) == 3


def test_decisions_in_process(committed):
    """Which requests the handler answers; everything else reaches the wrapped app."""
    call = FastPathProbe(fastpath.answer)
    status, _, body = call("/ogc/collections/schools/items", query="limit=2")
    assert status == "200 OK" and b'"FeatureCollection"' in body and call.passed == []
    for path, query, extra in [
        ("/ogc/collections/schools/items", "limit=2", {"REQUEST_METHOD": "HEAD"}),
        ("/ogc/collections/schools/items", "", {"REQUEST_METHOD": "POST"}),
        ("/ogc/collections/schools/items", "", {"HTTP_COOKIE": "sessionid=x"}),
        ("/ogc/collections/schools/items", "", {"HTTP_AUTHORIZATION": "Basic eDp5"}),
        ("/ogc/collections/schools/items", "", {"HTTP_HOST": "evil.example"}),
        ("/ogc/collections/schools/items", "f=html", {}),
        ("/ogc/collections/schools/items", "", {"HTTP_ACCEPT": "text/html"}),
        ("/ogc/collections/schools/items", "bbox=1,2", {}),
        ("/ogc/collections/schools/items", "&".join(f"a{i}=1" for i in range(1200)), {}),
        ("/ogc/collections/schools/items/1", "", {}),
        ("/ogc/collections/schools/items/", "", {}),
        ("/ogc/collections/catalog/items", "", {}),
        ("/ogc/collections/cameras/items", "", {}),
        ("/ogc/collections/traffic_nodes/items", "", {}),
        ("/ogc/collections", "", {}),
    ]:
        call.passed.clear()
        environ_extra = dict(extra)
        method = environ_extra.pop("REQUEST_METHOD", "GET")
        assert call(path, method, query, **environ_extra)[2] == b"django", (path, query, extra)
        assert call.passed == [f"{path}?{query}"]


def test_remembered_plans_follow_the_registry_and_the_host(committed, monkeypatch):
    """A page's plan is remembered per root URL, collection and query string while the
    registry holds the same declaration: links follow the request's host, and a collection
    no longer public goes to Django at once."""
    import dataclasses

    from layers.registry import Access, registry

    call = FastPathProbe(fastpath.answer)
    path, query = "/ogc/collections/schools/items", "limit=1"
    for host in ("127.0.0.1:8000", "localhost:8000", "127.0.0.1:8000"):
        status, _, body = call(path, query=query, HTTP_HOST=host)
        assert status == "200 OK" and f"http://{host}/ogc/collections/schools".encode() in body
    internal = dataclasses.replace(registry.get("schools"), access=Access.INTERNAL)
    monkeypatch.setitem(registry._layers, "schools", internal)
    assert call(path, query=query)[2] == b"django" and call.passed == [f"{path}?{query}"]
