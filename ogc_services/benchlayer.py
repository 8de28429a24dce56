"""The OGC benchmark's layer over ``bench.points_<n>`` (``ogc_services/bench.py``).

Registered only in the benchmark's server process (``ogc_services/bench_wsgi.py``); the
benchmark command itself builds the same layer, unregistered, to write the SQL ceiling's
statement with the very code that serves ``/items`` (``query.page_statement``).
"""

from __future__ import annotations

from functools import cache

from django.contrib.gis.db import models

from layers.registry import Access, FeatureLayer, Style, Text

LAYER_ID = "bench_points"


@cache
def bench_layer(table: str) -> FeatureLayer:
    """The layer over ``table`` (found through the ``search_path``: ``bench,public``)."""
    attrs = {
        "__module__": __name__,
        "name": models.CharField(max_length=40),
        "value": models.IntegerField(),
        "version": models.IntegerField(default=1),
        "geom": models.PointField(srid=4326),
        "geometry_field": "geom",
        "Meta": type(
            "Meta", (), {"app_label": "ogc_services", "managed": False, "db_table": table}
        ),
    }
    model = type(f"BenchPoint_{table}", (models.Model,), attrs)
    return FeatureLayer(
        id=LAYER_ID,
        title=Text("Điểm benchmark", "Benchmark points"),
        description=Text("Bảng tạm cho benchmark", "Temporary benchmark table"),
        group="admin",
        access=Access.PUBLIC,
        model=model,
        public_fields=("name", "value"),
        editable=False,
        style=Style(kind="circle", color="#000000"),
        key_field=None,
        temporal_field=None,
    )
