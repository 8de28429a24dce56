"""The web map at / and its JSON APIs (included last at the root of geo/urls.py)."""

from django.urls import path

from viewer import views

urlpatterns = [
    path("", views.index, name="viewer"),
    path("api/search", views.api_search, name="viewer-search"),
    path("api/stats", views.api_stats, name="viewer-stats"),
    path("api/events", views.api_events, name="viewer-events"),
    path("api/features/<str:layer_id>/<int:pk>", views.api_feature, name="viewer-feature"),
    path("api/reports/<int:pk>/history", views.api_report_history, name="viewer-report-history"),
    path("api/geojson/<str:layer_id>", views.api_geojson, name="viewer-geojson"),
    path(
        "static/viewer/glyphs/<str:fontstack>/<int:start>-<int:end>.pbf",
        views.glyph_range,
        name="viewer-glyphs",
    ),
]
