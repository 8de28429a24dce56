"""The map viewer: the page at / and the small JSON APIs it uses. Views stay thin."""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.http import FileResponse, Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from layers.models import FieldReportStatusChange
from layers.registry import FeatureLayer, UnknownLayer, registry
from viewer import events, glyphs, search, stats


def _json(data, status: int = 200, *, private: bool = True) -> JsonResponse:
    response = JsonResponse(data, status=status, encoder=DjangoJSONEncoder)
    response["Cache-Control"] = "private, no-cache" if private else "public, max-age=60"
    return response


def _error(status: int, code: str, vi: str, en: str) -> JsonResponse:
    return _json({"code": code, "description": {"vi": vi, "en": en}}, status)


def _visible_feature_layer(request, layer_id: str) -> FeatureLayer:
    """The layer, or 404 when it does not exist *or* the caller may not see it (no leak)."""
    try:
        layer = registry.get(layer_id)
    except UnknownLayer:
        raise Http404(layer_id) from None
    if not isinstance(layer, FeatureLayer) or not layer.can_view(request.user):
        raise Http404(layer_id)
    return layer


@require_GET
def index(request):
    user = request.user
    # Vietnamese unless the visitor chose otherwise (the switch sets Django's language cookie);
    # a wall screen's English browser must not turn the operations map English.
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
    language = chosen if chosen in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE
    config = {
        "language": language,
        "user": {
            "authenticated": user.is_authenticated,
            "username": user.get_username() if user.is_authenticated else None,
        },
        "bbox": list(settings.IOC_PROVINCE_BBOX),
        # Raster layers (DEM relief) and the optional external basemap come through MapProxy,
        # which caches them (so a basemap seen once keeps working offline).
        "raster_url": "/mapproxy/wmts/{layer}/webmercator/{z}/{x}/{y}.png",
        "basemap": bool(settings.BASEMAP_URL),
        "csrf_token": get_token(request),
        "glyphs": request.build_absolute_uri(settings.STATIC_URL + "viewer/glyphs/")
        + "{fontstack}/{range}.pbf",
        "urls": {
            "layers": reverse("api-layers"),
            "search": reverse("viewer-search"),
            "stats": reverse("viewer-stats"),
            "events": reverse("viewer-events"),
            "feature": "/api/features/{layer}/{id}",
            "history": "/api/reports/{id}/history",
            "geojson": "/api/geojson/{layer}",
            "tilejson": "/tiles/{layer}.json",
            "login": f"{settings.LOGIN_URL}?next=/",
            "logout": reverse("admin:logout"),
            "setlang": reverse("set_language"),
        },
    }
    return render(request, "viewer/index.html", {"config": config})


@require_GET
def api_search(request):
    query = request.GET.get("q", "")
    try:
        limit = max(1, min(int(request.GET.get("limit", 20)), 100))
    except ValueError:
        return _error(400, "bad-limit", "limit phải là số nguyên.", "limit must be an integer.")
    return _json({"query": query, "results": search.search(request.user, query, limit)})


@require_GET
def api_stats(request):
    unit = request.GET.get("by", "communes")
    if unit not in stats.UNIT_LAYERS:
        return _error(
            400,
            "bad-unit",
            "by phải là communes hoặc districts.",
            "by must be communes or districts.",
        )
    return _json(stats.unit_stats(request.user, unit))


@never_cache
@require_GET
def api_events(request):
    raw = request.headers.get("Last-Event-ID") or request.GET.get("since")
    try:
        last = int(raw) if raw else None
    except ValueError:
        last = None
    response = StreamingHttpResponse(
        events.stream(request.user, last), content_type="text/event-stream; charset=utf-8"
    )
    response["Cache-Control"] = "no-cache, no-transform"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


def _field_values(layer: FeatureLayer, user, pk) -> dict:
    fields = list(layer.fields_for(user))
    model = layer.model
    names = []
    for name in fields:
        field = model._meta.get_field(name)
        names.append(f"{name}__name" if field.is_relation else name)
    row = layer.queryset().filter(pk=pk).values("pk", *names).first()
    if row is None:
        raise Http404(pk)
    props, display, titles = {}, {}, {}
    for name in fields:
        field = model._meta.get_field(name)
        value = row[f"{name}__name" if field.is_relation else name]
        props[name] = value
        titles[name] = str(field.verbose_name)
        if field.choices and value is not None:
            display[name] = str(dict(field.flatchoices).get(value, value))
    return {"id": row["pk"], "properties": props, "display": display, "titles": titles}


@require_GET
def api_feature(request, layer_id: str, pk: int):
    """A feature's attributes for the popup: public ones, plus restricted ones if permitted."""
    layer = _visible_feature_layer(request, layer_id)
    data = _field_values(layer, request.user, pk)
    return _json({"layer": layer.id, **data})


@require_GET
def api_report_history(request, pk: int):
    """A field report's public status history (FieldReportStatusChange rows), oldest first."""
    layer = _visible_feature_layer(request, "field_reports")
    if not layer.queryset().filter(pk=pk).exists():
        raise Http404(pk)
    labels = dict(layer.model.Status.choices)
    rows = FieldReportStatusChange.objects.filter(report_id=pk).order_by("changed_at", "id")
    return _json(
        {
            "report": pk,
            "history": [
                {
                    "from_status": r.from_status,
                    "to_status": r.to_status,
                    "to_status_display": str(labels.get(r.to_status, r.to_status)),
                    "changed_at": r.changed_at,
                    "note": r.note,
                }
                for r in rows
            ],
        }
    )


@require_GET
def api_geojson(request, layer_id: str):
    """FALLBACK ONLY, used by the map when /tiles/{layer}.json is not available: a layer as
    GeoJSON with the caller's fields. ``?geometry=fov`` gives a camera's field-of-view polygons."""
    layer = _visible_feature_layer(request, layer_id)
    qn = connection.ops.quote_name
    geom_field = layer.geometry_field
    wanted = request.GET.get("geometry")
    if wanted:
        if wanted not in layer.secondary_geometry_fields:
            return _error(400, "bad-geometry", "Không có cột hình học này.", "No such geometry.")
        geom_field = wanted
    cols = []
    for name in layer.fields_for(request.user):
        field = layer.model._meta.get_field(name)
        cols.append(f"{qn(field.column)} AS {qn(name)}")
    geom = qn(layer.model._meta.get_field(geom_field).column)
    where, params = layer.sql_filter()
    geom_sql = f"ST_AsGeoJSON({geom}, 6)::json"
    if layer.geometry_type in ("MULTIPOLYGON", "POLYGON"):
        geom_sql = f"ST_AsGeoJSON(ST_SimplifyPreserveTopology({geom}, 0.0002), 6)::json"
    sql = (
        "SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg("
        "json_build_object('type', 'Feature', 'id', t.id, 'properties', "
        "to_jsonb(t) - '__g', 'geometry', t.__g)), '[]'::json))::text FROM ("
        f"SELECT id, {', '.join(cols)}, {geom_sql} AS __g FROM {qn(layer.table)} "
        f"WHERE ({where}) AND {geom} IS NOT NULL) t"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        body = cursor.fetchone()[0]
    response = HttpResponse(body, content_type="application/geo+json")
    response["Cache-Control"] = "private, no-cache"
    return response


@require_GET
def glyph_range(request, fontstack: str, start: int, end: int):
    """Glyph ranges not rendered at set-up (or before collectstatic): rendered once, cached."""
    # MapLibre asks for a comma-separated font stack; we serve the first font we know.
    name = next(
        (f.strip() for f in fontstack.split(",") if f.strip() in settings.VIEWER_FONTS), None
    )
    if name is None or end != start + 255 or start % 256 or start >= 65536:
        raise Http404(fontstack)
    try:
        path = glyphs.ensure_range(name, start)
    except glyphs.FontMissing as exc:
        return HttpResponse(str(exc), status=503, content_type="text/plain; charset=utf-8")
    response = FileResponse(path.open("rb"), content_type="application/x-protobuf")
    response["Cache-Control"] = "public, max-age=86400"
    return response
