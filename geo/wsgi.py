"""WSGI entry point (granian --interface wsgi geo.wsgi:application, see scripts/serve.sh).

Anonymous hits of public vector tiles are answered by tiles/fastpath.py before Django.
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

from tiles.fastpath import TileFastPath  # noqa: E402  (needs the apps loaded above)

application = TileFastPath(django_application)

# Everything loaded so far lives as long as the worker: keep it out of the cyclic garbage
# collector's full passes, which otherwise walk all of Django every few thousand requests
# (measured: cached tiles +5–20 % req/s).
gc.freeze()
