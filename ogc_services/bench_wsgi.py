"""WSGI entry of the benchmark server: the platform plus one temporary bench layer.

Only ``ogc_services/bench.py`` starts this (granian ``ogc_services.bench_wsgi:application``);
the layer exists in that process alone and reads ``bench.points`` (found through the
``search_path`` set in the bench's DATABASE_URL), never the demo layers.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geo.settings")

import django  # noqa: E402

django.setup()

from layers.registry import registry  # noqa: E402
from ogc_services.benchlayer import LAYER_ID, bench_layer  # noqa: E402

if LAYER_ID not in registry:
    registry.register(bench_layer(os.environ.get("IOC_BENCH_TABLE", "points")))

from geo.wsgi import application  # noqa: E402, F401  (the platform, as make run serves it)
