"""Platform-wide endpoints that belong to no layer."""

from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe


@never_cache
@require_safe  # GET and HEAD: load balancers probe with either
def healthz(request):
    """200 with the database and PostGIS versions, or 503 when the database is unreachable."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('server_version'), postgis_lib_version()")
            pg_version, postgis_version = cursor.fetchone()
    except DatabaseError as exc:
        # Say which kind of failure, never the connection string or SQL.
        return JsonResponse(
            {"status": "error", "database": "unreachable", "error": type(exc).__name__},
            status=503,
        )
    return JsonResponse(
        {"status": "ok", "database": {"postgresql": pg_version, "postgis": postgis_version}}
    )
