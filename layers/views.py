"""Read-only JSON about the registry for the web map and other clients."""

from django.contrib.admin.views.decorators import staff_member_required
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from layers.models import AdminUnit
from layers.registry import GROUPS, FeatureLayer, registry
from layers.stats import layer_summaries


@require_GET
def api_layers(request):
    """Every layer the caller may see: id, titles, geometry type, access, count and extent."""
    layers = registry.visible_to(request.user)
    summaries = layer_summaries([layer for layer in layers if isinstance(layer, FeatureLayer)])
    items = []
    for layer in layers:
        item = {
            "id": layer.id,
            "kind": layer.kind,
            "title": layer.title.as_dict(),
            "description": layer.description.as_dict(),
            "group": layer.group,
            "group_title": GROUPS[layer.group].as_dict(),
            "keywords": list(layer.keywords),
            "access": str(layer.access),
            "attribution": layer.attribution,
            "visible_by_default": layer.visible_by_default,
        }
        if isinstance(layer, FeatureLayer):
            count, bbox = summaries[layer.id]
            item.update(
                geometry_type=layer.geometry_type,
                feature_count=count,
                extent=bbox,
                fields=list(layer.fields_for(request.user)),
                editable=layer.can_edit(request.user),
                style=layer.style.as_dict(),
            )
        items.append(item)
    return JsonResponse({"layers": items}, json_dumps_params={"ensure_ascii": False})


@staff_member_required
@require_GET
def admin_background(request):
    """Simplified 2025 communes as GeoJSON: the offline background of the admin's map widget."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT json_build_object('type', 'FeatureCollection', 'features', "
            "coalesce(json_agg(json_build_object('type', 'Feature', 'properties', "
            "json_build_object('name', name), 'geometry', "
            "ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom, 0.0005), 5)::json)), "
            "'[]'::json))::text "
            f"FROM {AdminUnit._meta.db_table} WHERE layer = 'communes'"
        )
        body = cursor.fetchone()[0]
    response = HttpResponse(body, content_type="application/geo+json")
    response["Cache-Control"] = "private, max-age=300"
    return response
