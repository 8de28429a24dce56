"""WSGI entry point (granian --interface wsgi geo.wsgi:application, see scripts/serve.sh).

A few hot anonymous reads are answered before Django (geo/fastpath.py): cached public tiles
(tiles/fastpath.py) and /items pages of public collections (ogc_services/fastpath.py).
"""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geo.settings")
django_application = get_wsgi_application()

from django.urls import get_resolver  # noqa: E402

# Import every view module now, not on the first request each worker serves (~0.45 s, seen
# as a half-second stall in the first second of every (re)started worker).
get_resolver().url_patterns  # noqa: B018

from geo.fastpath import FastPaths  # noqa: E402  (the handlers need the apps loaded above)
from ogc_services import fastpath as ogc_fastpath  # noqa: E402
from tiles import fastpath as tiles_fastpath  # noqa: E402

HANDLERS = (tiles_fastpath.answer, ogc_fastpath.answer)
application = FastPaths(django_application, HANDLERS)

# Everything loaded so far lives as long as the worker: keep it out of the cyclic garbage
# collector's full passes, which otherwise walk all of Django every few thousand requests
# (measured: cached tiles +5–20 % req/s).
gc.freeze()
