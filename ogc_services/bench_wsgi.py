"""WSGI entry of the benchmark server: the platform plus one temporary bench layer.

Only ``ogc_services/bench.py`` starts this (granian ``ogc_services.bench_wsgi:application``);
the layer exists in that process alone and reads ``bench.points`` (found through the
``search_path`` set in the bench's DATABASE_URL), never the demo layers.
"""

from __future__ import annotations

import gc
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geo.settings")

import django  # noqa: E402

django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402

from layers.registry import registry  # noqa: E402
from ogc_services.benchlayer import LAYER_ID, bench_layer  # noqa: E402
from tiles.fastpath import TileFastPath  # noqa: E402

if LAYER_ID not in registry:
    registry.register(bench_layer(os.environ.get("IOC_BENCH_TABLE", "points")))

application = TileFastPath(get_wsgi_application())  # as geo/wsgi.py

from django.urls import get_resolver  # noqa: E402

get_resolver().url_patterns  # noqa: B018  (as geo/wsgi.py: views imported before any request)

gc.freeze()  # as geo/wsgi.py
