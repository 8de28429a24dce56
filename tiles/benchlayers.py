"""The tile benchmark's layers (``tiles/bench.py``): 1,000,000 points and 100,000 polygons in
schema ``bench``, served through the very same registry → service → tile SQL path as every
production layer. Registered only in a process started with ``IOC_TILES_BENCH_LAYERS=1``
(``settings.TILES_BENCH_LAYERS``), i.e. the server the benchmark starts; never in production.
The models are unmanaged: the benchmark creates and fills the tables itself.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache

from django.contrib.gis.db import models

from layers.registry import Access, FeatureLayer, Style, Text, TileOptions, registry

POINTS, POLYGONS = "bench_points", "bench_polygons"


@cache
def models_() -> tuple[type[models.Model], type[models.Model]]:
    class BenchPoint(models.Model):
        geometry_field = "geom"
        name = models.CharField(max_length=40)
        kind = models.IntegerField()
        geom = models.PointField(srid=4326)

        class Meta:
            managed = False
            app_label = "tiles"
            db_table = "bench.points"

    class BenchPolygon(models.Model):
        geometry_field = "geom"
        name = models.CharField(max_length=40)
        kind = models.IntegerField()
        geom = models.PolygonField(srid=4326)

        class Meta:
            managed = False
            app_label = "tiles"
            db_table = "bench.polygons"

    return BenchPoint, BenchPolygon


@cache
def layers() -> tuple[FeatureLayer, FeatureLayer]:
    """Generalised like the catalog's point and polygon layers (schools, communes)."""
    point_model, polygon_model = models_()
    common = {
        "group": "admin",
        "access": Access.PUBLIC,
        "public_fields": ("name", "kind"),
        "editable": False,
        "key_field": None,
        "temporal_field": None,
        "visible_by_default": False,
    }
    return (
        FeatureLayer(
            id=POINTS,
            title=Text("Điểm thử tải", "Benchmark points"),
            description=Text("Chỉ dùng cho benchmark.", "Benchmark only."),
            model=point_model,
            style=Style(kind="circle", color="#c0392b"),
            # 1M points in the province: a z12 tile holds ~30k of them, a z13 tile ~7k
            tile_options=replace(_options("schools"), dense_max_zoom=12),
            **common,
        ),
        FeatureLayer(
            id=POLYGONS,
            title=Text("Vùng thử tải", "Benchmark polygons"),
            description=Text("Chỉ dùng cho benchmark.", "Benchmark only."),
            model=polygon_model,
            style=Style(kind="fill", color="#2980b9"),
            tile_options=_options("communes"),
            **common,
        ),
    )


def _options(layer_id: str) -> TileOptions:
    return registry.get(layer_id).tile_options if layer_id in registry else TileOptions()


def register() -> None:
    for layer in layers():
        if layer.id not in registry:
            registry.register(layer)
