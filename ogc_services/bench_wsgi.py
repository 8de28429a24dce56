"""WSGI entry of the benchmark server: the platform plus one temporary bench layer.

Only ``ogc_services/bench.py`` starts this (gunicorn ``ogc_services.bench_wsgi:application``);
the layer exists in that process alone and reads ``bench.points`` (found through the
``search_path`` set in the bench's DATABASE_URL), never the demo layers.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geo.settings")

import django  # noqa: E402

django.setup()

from django.contrib.gis.db import models  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

from layers.registry import Access, FeatureLayer, Style, Text, registry  # noqa: E402

BENCH_LAYER = "bench_points"


class BenchPoint(models.Model):
    name = models.CharField(max_length=40)
    value = models.IntegerField()
    version = models.IntegerField(default=1)
    geom = models.PointField(srid=4326)

    geometry_field = "geom"

    class Meta:
        app_label = "ogc_services"
        managed = False
        db_table = os.environ.get("IOC_BENCH_TABLE", "points")


if BENCH_LAYER not in registry:
    registry.register(
        FeatureLayer(
            id=BENCH_LAYER,
            title=Text("Điểm benchmark", "Benchmark points"),
            description=Text("Bảng tạm cho benchmark", "Temporary benchmark table"),
            group="admin",
            access=Access.PUBLIC,
            model=BenchPoint,
            public_fields=("name", "value"),
            editable=False,
            style=Style(kind="circle", color="#000000"),
            key_field=None,
            temporal_field=None,
        )
    )

application = get_wsgi_application()
