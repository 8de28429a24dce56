"""OGC API (Features Parts 1–4, Records) under /ogc; trailing slashes are accepted."""

from pathlib import Path

import pygeoapi
from django.urls import re_path
from django.views.static import serve

from ogc_services import views

PYGEOAPI_STATIC = Path(pygeoapi.__file__).parent / "static"

urlpatterns = [
    re_path(r"^ogc/?$", views.landing, name="ogc-landing"),
    re_path(r"^ogc/conformance/?$", views.conformance, name="ogc-conformance"),
    re_path(r"^ogc/openapi/?$", views.openapi, name="ogc-openapi"),
    re_path(r"^ogc/api/?$", views.openapi),  # pygeoapi's templates link here
    re_path(r"^ogc/collections/?$", views.collections, name="ogc-collections"),
    re_path(
        r"^ogc/collections/(?P<collection_id>[\w-]+)/?$", views.collection, name="ogc-collection"
    ),
    re_path(
        r"^ogc/collections/(?P<collection_id>[\w-]+)/queryables/?$",
        views.queryables,
        name="ogc-queryables",
    ),
    re_path(r"^ogc/collections/(?P<collection_id>[\w-]+)/items/?$", views.items, name="ogc-items"),
    re_path(
        r"^ogc/collections/(?P<collection_id>[\w-]+)/items/(?P<item_id>[^/]+)/?$",
        views.item,
        name="ogc-item",
    ),
    re_path(r"^ogc/static/(?P<path>.*)$", serve, {"document_root": str(PYGEOAPI_STATIC)}),
]
