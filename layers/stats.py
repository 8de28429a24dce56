"""Counts and extents of layers, in one round trip."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection

from layers.registry import FeatureLayer


def layer_summaries(
    layers: Sequence[FeatureLayer],
) -> dict[str, tuple[int, list[float] | None]]:
    """layer id → (feature count, [minx, miny, maxx, maxy] in lon/lat or None if empty)."""
    if not layers:
        return {}
    parts, params = [], []
    for layer in layers:
        where, where_params = layer.sql_filter()
        geom = connection.ops.quote_name(layer.geometry_column)
        parts.append(
            f"SELECT %s AS id, count(*) AS n, ST_Extent({geom}) AS box "
            f"FROM {connection.ops.quote_name(layer.table)} WHERE {where}"
        )
        params.extend([layer.id, *where_params])
    sql = (
        "SELECT id, n, ST_XMin(box), ST_YMin(box), ST_XMax(box), ST_YMax(box) FROM ("
        + " UNION ALL ".join(parts)
        + ") AS s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return {
        layer_id: (n, None if xmin is None else [round(v, 6) for v in (xmin, ymin, xmax, ymax)])
        for layer_id, n, xmin, ymin, xmax, ymax in rows
    }
