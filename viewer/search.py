"""Search features by name across every layer the caller may see, ignoring diacritics and case.

Folding happens in PostgreSQL (``ioc_fold``: unaccent + đ→d + lower, migration viewer/0001) on
both sides, so "dong hy" finds "Đồng Hỷ" and "thai nguyen" finds "Thái Nguyên". Each word of
the query must occur; names starting with the query rank first. One SQL query.
"""

from __future__ import annotations

from django.db import connection

from layers.registry import FeatureLayer, registry

# The attribute(s) a layer is searched by (the first one is the label shown).
NAME_FIELDS: dict[str, tuple[str, ...]] = {"field_reports": ("title", "tracking_code")}
DEFAULT_NAME_FIELDS = ("name",)
MAX_QUERY = 100


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(user, query: str, limit: int = 20) -> list[dict]:
    words = [w for w in query.strip()[:MAX_QUERY].split() if w]
    if not words:
        return []
    qn = connection.ops.quote_name
    parts, params = [], []
    for layer in registry.visible_to(user):
        if not isinstance(layer, FeatureLayer):
            continue
        fields = NAME_FIELDS.get(layer.id, DEFAULT_NAME_FIELDS)
        columns = [qn(layer.model._meta.get_field(f).column) for f in fields]
        haystack = " || ' ' || ".join(f"coalesce({c}, '')" for c in columns)
        where, where_params = layer.sql_filter()
        word_conds = " AND ".join(
            [f"ioc_fold({haystack}) LIKE '%%' || ioc_fold(%s) || '%%'"] * len(words)
        )
        geom = qn(layer.geometry_field)
        parts.append(
            f"SELECT %s AS layer, id, {columns[0]}::text AS label, {geom} AS geom "
            f"FROM {qn(layer.table)} WHERE ({where}) AND {word_conds}"
        )
        params.extend([layer.id, *where_params, *(_escape_like(w) for w in words)])
    if not parts:
        return []
    sql = (
        "SELECT layer, id, label, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)), "
        "ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) FROM ("
        + " UNION ALL ".join(parts)
        + ") AS hits ORDER BY (ioc_fold(label) LIKE ioc_fold(%s) || '%%') DESC, "
        "length(label), label LIMIT %s"
    )
    params.extend([_escape_like(" ".join(words)), limit])
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    titles = {layer.id: layer.title.as_dict() for layer in registry}
    return [
        {
            "layer": layer_id,
            "layer_title": titles[layer_id],
            "id": pk,
            "label": label,
            "center": [round(x, 6), round(y, 6)],
            "bbox": [round(v, 6) for v in (x0, y0, x1, y1)],
        }
        for layer_id, pk, label, x, y, x0, y0, x1, y1 in rows
    ]
