"""/tiles …, /styles …, /mapproxy … (see tiles/views.py)."""

from django.urls import re_path

from tiles import views

SEG = r"[^/]+"

urlpatterns = [
    re_path(
        rf"^tiles/combined/(?P<z>{SEG})/(?P<x>{SEG})/(?P<y>[^/]+?)\.mvt$",
        views.combined_tile,
        name="tiles-combined",
    ),
    re_path(
        rf"^tiles/raster/(?P<layer>{SEG})/(?P<z>{SEG})/(?P<x>{SEG})/(?P<y>[^/]+?)\.png$",
        views.raster_tile,
        name="tiles-raster",
    ),
    re_path(
        rf"^tiles/(?P<layer>{SEG})/(?P<z>{SEG})/(?P<x>{SEG})/(?P<y>[^/]+?)\.mvt$",
        views.vector_tile,
        name="tiles-mvt",
    ),
    re_path(r"^tiles/(?P<layer>[^/]+?)\.json$", views.tilejson_view, name="tiles-tilejson"),
    re_path(r"^styles/ioc\.json$", views.style_view, name="tiles-style"),
    re_path(r"^mapproxy/?(?P<path>.*)$", views.mapproxy_view, name="tiles-mapproxy"),
]
