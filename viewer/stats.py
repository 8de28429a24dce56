"""KPIs per administrative unit for the dashboard, in one SQL query.

A metric is declared as data: which layer it comes from (the caller must be allowed to see that
layer, else the metric is left out) and how it counts that layer's rows. Units are the 2025
communes (points carry their commune, found by the database) or the pre-2025 districts (points
are placed spatially, since a new commune may straddle two old districts).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

from layers.models import AdminUnit, CommuneCrosswalk
from layers.registry import FeatureLayer, Text, registry


@dataclass(frozen=True)
class Metric:
    id: str
    title: Text
    layer: str  # registry id of the counted layer (population comes from the unit itself)
    where: str = "TRUE"  # extra SQL condition on the layer's rows (alias p)


METRICS: tuple[Metric, ...] = (
    Metric("schools", Text("Trường học", "Schools"), "schools"),
    Metric("health_facilities", Text("Cơ sở y tế", "Health facilities"), "health_facilities"),
    Metric(
        "cameras_online",
        Text("Camera trực tuyến", "Cameras online"),
        "cameras",
        "p.status = 'online'",
    ),
    Metric(
        "cameras_offline",
        Text("Camera mất kết nối / bảo trì", "Cameras offline / maintenance"),
        "cameras",
        "p.status <> 'online'",
    ),
    Metric(
        "reports_open",
        Text("Phản ánh đang xử lý", "Open field reports"),
        "field_reports",
        "p.status IN ('new', 'received', 'assigned', 'in_progress')",
    ),
    Metric(
        "reports_overdue",
        Text("Phản ánh quá hạn", "Overdue field reports"),
        "field_reports",
        "p.status IN ('new', 'received', 'assigned', 'in_progress') AND p.due_at < now()",
    ),
)
POPULATION = Text("Dân số", "Population")

UNIT_LAYERS = {"communes": "communes", "districts": "districts_2024"}


def metrics_for(user) -> list[Metric]:
    return [m for m in METRICS if registry.get(m.layer).can_view(user)]


def unit_stats(user, unit: str = "communes") -> dict:
    """{"unit", "metrics": [{id, title}], "units": [{id, code, name, population, values,
    predecessors}]} for every unit of the chosen generation."""
    if unit not in UNIT_LAYERS:
        raise ValueError(unit)
    metrics = metrics_for(user)
    qn = connection.ops.quote_name
    units_table = qn(AdminUnit._meta.db_table)
    ctes = [
        f"u AS (SELECT id, code, name, full_name, population, population_year, geom "
        f"FROM {units_table} WHERE layer = %s)"
    ]
    params: list = [UNIT_LAYERS[unit]]
    selects, joins = [], []
    for i, metric in enumerate(metrics):
        layer = registry.get(metric.layer)
        if not isinstance(layer, FeatureLayer):
            raise TypeError(f"metric {metric.id}: {metric.layer} is not a feature layer")
        where, where_params = layer.sql_filter()
        table = qn(layer.table)
        if unit == "communes":
            # The database keeps each point's commune (2025) up to date: a plain GROUP BY.
            ctes.append(
                f"m{i} AS (SELECT p.commune_id AS uid, count(*) AS n FROM {table} p "
                f"WHERE ({where}) AND ({metric.where}) GROUP BY p.commune_id)"
            )
        else:
            ctes.append(
                f"m{i} AS (SELECT u.id AS uid, count(*) AS n FROM {table} p "
                f"JOIN u ON ST_Intersects(u.geom, p.geom) "
                f"WHERE ({where}) AND ({metric.where}) GROUP BY u.id)"
            )
        params.extend(where_params)
        selects.append(f"'{metric.id}', coalesce(m{i}.n, 0)")
        joins.append(f"LEFT JOIN m{i} ON m{i}.uid = u.id")
    if unit == "communes":
        # Which pre-2025 communes (and districts) each new commune was formed from.
        ctes.append(
            "pre AS (SELECT new_unit_id AS uid, json_agg(json_build_object("
            "'name', old_name, 'district', old_district_name, 'merge_type', merge_type) "
            f"ORDER BY old_name) AS items FROM {qn(CommuneCrosswalk._meta.db_table)} "
            "GROUP BY new_unit_id)"
        )
        joins.append("LEFT JOIN pre ON pre.uid = u.id")
        predecessors = "coalesce(pre.items, '[]'::json)"
    else:
        predecessors = "'[]'::json"
    values = f"json_build_object({', '.join(selects)})" if selects else "'{}'::json"
    sql = (
        f"WITH {', '.join(ctes)} "
        f"SELECT u.id, u.code, u.name, u.full_name, u.population, u.population_year, "
        f"{values}, {predecessors} FROM u {' '.join(joins)} ORDER BY u.name"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return {
        "unit": unit,
        "layer": UNIT_LAYERS[unit],
        "metrics": [{"id": "population", "title": POPULATION.as_dict()}]
        + [{"id": m.id, "title": m.title.as_dict(), "layer": m.layer} for m in metrics],
        "units": [
            {
                "id": uid,
                "code": code,
                "name": name,
                "full_name": full_name,
                "population_year": pop_year,
                "values": {"population": population, **_json(vals)},
                "predecessors": _json(pre),
            }
            for uid, code, name, full_name, population, pop_year, vals, pre in rows
        ],
    }


def _json(value):
    import json

    return json.loads(value) if isinstance(value, str) else value
