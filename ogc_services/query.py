"""The feature query engine: OGC API parameters → one parameterised PostGIS statement.

GeoJSON is written by PostgreSQL itself (``json_build_object`` + ``ST_AsGeoJSON`` on the
page only), so a page of 100 features costs one round trip and no Python per feature.
Filters are built as a Django ``Q`` on the layer's queryset (the layer's own row filter,
bbox, datetime, property equality, CQL2) and compiled to SQL by Django, so every value is a
bound parameter. Names (properties, sort keys) come only from the registry.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any

from django.conf import settings
from django.core.exceptions import EmptyResultSet, FullResultSet, ValidationError
from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from geo import crs as crs_registry
from geo.db import fetchone_prepared, quote_name
from layers.registry import FeatureLayer
from ogc_services import cql
from ogc_services.errors import bad_request

# Parameters /items understands; anything else must be a queryable property.
ITEMS_PARAMS = {
    "f",
    "lang",
    "limit",
    "offset",
    "bbox",
    "bbox-crs",
    "datetime",
    "properties",
    "sortby",
    "skipGeometry",
    "crs",
    "filter",
    "filter-lang",
    "filter-crs",
}
ITEM_PARAMS = {"f", "lang", "crs", "properties", "skipGeometry"}


def served_crs(identifier: str | None, param: str = "crs") -> crs_registry.CRSDef:
    if not identifier:
        return crs_registry.lookup("OGC:CRS84")
    try:
        found = crs_registry.lookup(identifier)
    except (crs_registry.UnknownCRS, ValueError):
        found = None
    if found is None or found.code not in crs_registry.SERVED_CRS:
        raise bad_request(
            f"Hệ toạ độ không hỗ trợ / Unsupported {param}: {identifier!r}. "
            f"Hỗ trợ / supported: {', '.join(crs_registry.SERVED_CRS)}"
        )
    return found


GEOMETRY_TYPES = {
    "POINT": "Point",
    "MULTIPOINT": "MultiPoint",
    "LINESTRING": "LineString",
    "MULTILINESTRING": "MultiLineString",
    "POLYGON": "Polygon",
    "MULTIPOLYGON": "MultiPolygon",
}


def geometry_type(layer: FeatureLayer) -> str:
    """The layer's GeoJSON geometry type ("Point", "MultiPolygon" …; "Geometry" if mixed)."""
    return GEOMETRY_TYPES.get(str(layer.geometry_type).upper(), "Geometry")


def queryable_fields(layer: FeatureLayer, visible: tuple[str, ...]) -> dict[str, Any]:
    """Visible attribute name → model field (only concrete, local columns)."""
    fields = {}
    for name in visible:
        model_field = layer.model._meta.get_field(name)
        if getattr(model_field, "concrete", False) and name != layer.geometry_field:
            fields[name] = model_field
    return fields


@dataclass
class ItemsQuery:
    layer: FeatureLayer
    fields: dict[str, Any]  # name → model field, in output order
    crs: crs_registry.CRSDef
    q: Q = field(default_factory=Q)
    # (minx, miny, maxx, maxy) in lon/lat, kept out of ``q``: written as plain SQL, no ORM
    # compile on the hot path. ``empty``: the request can match nothing.
    bbox: tuple[float, float, float, float] | None = None
    empty: bool = False
    limit: int = 10
    offset: int = 0
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (column, descending)
    skip_geometry: bool = False


def _int(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name} phải là số nguyên / {name} must be an integer") from None
    if value < low:
        raise bad_request(f"{name} phải ≥ {low} / {name} must be ≥ {low}")
    return min(value, high)


def _bool(params: Mapping[str, str], name: str) -> bool:
    raw = (params.get(name) or "false").lower()
    if raw not in {"true", "false", "1", "0"}:
        raise bad_request(f"{name} phải là true/false / {name} must be true or false")
    return raw in {"true", "1"}


def _bbox(raw: str, bbox_crs: crs_registry.CRSDef) -> tuple[float, float, float, float] | None:
    """The bbox parameter as lon/lat (None: it crosses the antimeridian, so nothing here)."""
    try:
        numbers = [float(v) for v in raw.split(",")]
    except ValueError:
        raise bad_request("bbox phải là các số / bbox must be numbers") from None
    if len(numbers) not in (4, 6) or not all(math.isfinite(v) for v in numbers):
        raise bad_request("bbox phải có 4 hoặc 6 số / bbox must have 4 or 6 numbers")
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    x1, y1, x2, y2 = numbers
    if not bbox_crs.axis_lonlat:  # EPSG:4326 / EPSG:4756 order is lat, lon
        x1, y1, x2, y2 = y1, x1, y2, x2
    if bbox_crs.pyproj().is_geographic:
        if not (-90 <= y1 <= 90 and -90 <= y2 <= 90 and -180 <= x1 <= 180 and -180 <= x2 <= 180):
            raise bad_request("bbox ngoài phạm vi / bbox out of range")
    if y1 > y2:
        raise bad_request("bbox: cạnh dưới lớn hơn cạnh trên / bbox: lower > upper")
    if bbox_crs.code != "OGC:CRS84":
        tr = crs_registry.transformer(bbox_crs.code, "OGC:CRS84")
        try:
            x1, y1, x2, y2 = tr.transform_bounds(x1, y1, x2, y2, densify_pts=21)
        except Exception:  # noqa: BLE001 — pyproj raises ProjError for unprojectable boxes
            raise bad_request(
                "bbox không chuyển được hệ toạ độ / bbox cannot be transformed"
            ) from None
        if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
            raise bad_request("bbox không chuyển được hệ toạ độ / bbox cannot be transformed")
    if x1 > x2:  # crosses the antimeridian: not in this province
        return None
    return (x1, y1, x2, y2)


def _instant(text: str, end: bool) -> datetime:
    value = parse_datetime(text)
    if value is None:
        day = parse_date(text)
        if day is None:
            raise ValueError(text)
        value = datetime.combine(day, time.max if end else time.min)
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_default_timezone())
    return value


def _datetime_q(layer: FeatureLayer, raw: str) -> Q:
    if not layer.temporal_field:
        return Q()  # the collection has no time dimension: the parameter does not apply
    name = layer.temporal_field
    try:
        if "/" in raw:
            start, _, end = raw.partition("/")
            q = Q()
            if start not in ("", ".."):
                q &= Q(**{f"{name}__gte": _instant(start, end=False)})
            if end not in ("", ".."):
                q &= Q(**{f"{name}__lte": _instant(end, end=True)})
            return q
        if parse_datetime(raw) is None:  # a day: the whole day
            return Q(**{f"{name}__gte": _instant(raw, False), f"{name}__lte": _instant(raw, True)})
        return Q(**{name: _instant(raw, end=False)})
    except (ValueError, OverflowError):
        raise bad_request(
            "datetime phải theo RFC 3339 hoặc khoảng a/b / datetime must be RFC 3339 or an interval"
        ) from None


def parse_items(
    layer: FeatureLayer, visible: tuple[str, ...], params: Mapping[str, str]
) -> ItemsQuery:
    """Validate /items parameters for a caller who may see ``visible`` attributes."""
    queryable = queryable_fields(layer, visible)
    unknown = sorted(set(params) - ITEMS_PARAMS - set(queryable))
    if unknown:
        raise bad_request(f"Tham số không hỗ trợ / Unknown parameter(s): {', '.join(unknown)}")
    query = ItemsQuery(layer=layer, fields=dict(queryable), crs=served_crs(params.get("crs")))
    query.limit = _int(params, "limit", settings.OGC_DEFAULT_LIMIT, 1, settings.OGC_MAX_LIMIT)
    query.offset = _int(params, "offset", 0, 0, 10**9)
    query.skip_geometry = _bool(params, "skipGeometry")
    q = Q()
    if params.get("bbox"):
        query.bbox = _bbox(params["bbox"], served_crs(params.get("bbox-crs"), "bbox-crs"))
        query.empty = query.bbox is None
    elif params.get("bbox-crs"):
        served_crs(params["bbox-crs"], "bbox-crs")
    if params.get("datetime"):
        q &= _datetime_q(layer, params["datetime"])
    for name in sorted(set(params) & set(queryable)):
        model_field = queryable[name]
        try:
            value = model_field.to_python(params[name])
        except ValidationError:
            raise bad_request(f"Giá trị không hợp lệ cho / Invalid value for {name}") from None
        q &= Q(**{name: value})
    if params.get("filter"):
        tree = cql.parse(params["filter"], params.get("filter-lang"))
        filter_crs = served_crs(params.get("filter-crs"), "filter-crs")
        q &= cql.to_q(tree, {name: name for name in queryable}, filter_crs)
    elif params.get("filter-lang") and params["filter-lang"] not in ("cql2-text", "cql2-json"):
        raise bad_request(
            f"filter-lang không hỗ trợ / Unsupported filter-lang: {params['filter-lang']!r}"
        )
    query.q = q
    if "properties" in params:
        wanted = [p.strip() for p in params["properties"].split(",") if p.strip()]
        bad = [p for p in wanted if p not in queryable]
        if bad:
            raise bad_request(f"Thuộc tính không có / Unknown properties: {', '.join(bad)}")
        query.fields = {name: queryable[name] for name in wanted}
    if params.get("sortby"):
        for key in params["sortby"].split(","):
            key = key.strip()
            descending = key.startswith("-")
            name = key.lstrip("+-").strip()
            if name not in queryable and name != "id":
                raise bad_request(f"Không sắp xếp được theo / Cannot sort by: {name!r}")
            column = "id" if name == "id" else queryable[name].column
            query.sort.append((column, descending))
    return query


# --- SQL ---
def _where(
    layer: FeatureLayer, q: Q, bbox: tuple[float, float, float, float] | None = None
) -> tuple[str, list[Any]]:
    """A parameterised condition on the layer's table: its row filter, ``q`` and ``bbox``.

    The common cases (no filter, bbox, id) skip Django's query compiler: ~0.6 ms a request.
    """
    if q:
        qs = layer.queryset().filter(q)
        compiler = qs.query.get_compiler(using=qs.db)
        try:
            sql, params = compiler.compile(qs.query.where)
            sql, params = sql or "TRUE", list(params)
        except FullResultSet:
            sql, params = "TRUE", []
        except EmptyResultSet:
            return "FALSE", []
    else:
        sql, params = layer.sql_filter()
        params = list(params)
    if bbox is not None:
        column = quote_name(layer.geometry_column)
        sql = f"({sql}) AND ST_Intersects({column}, ST_MakeEnvelope(%s, %s, %s, %s, 4326))"
        params += list(bbox)
    return sql, params


def geometry_sql(column: str, crs: crs_registry.CRSDef) -> str:
    expr = column
    if crs.srid != 4326:
        expr = f"ST_Transform({expr}, {int(crs.srid)})"
    if not crs.axis_lonlat:
        expr = f"ST_FlipCoordinates({expr})"
    digits = 8 if crs.pyproj().is_geographic else 3
    return f"ST_AsGeoJSON({expr}, {digits}, 0)::json"


def feature_sql(
    layer: FeatureLayer, fields: Mapping[str, Any], crs, skip_geometry: bool, alias: str
) -> str:
    """The SQL expression of one GeoJSON feature of row ``alias``."""
    pairs = ", ".join(f"'{name}', {alias}.{quote_name(f.column)}" for name, f in fields.items())
    geom = (
        "NULL"
        if skip_geometry
        else geometry_sql(f"{alias}.{quote_name(layer.geometry_column)}", crs)
    )
    return (
        f"json_build_object('type', 'Feature', 'id', {alias}.\"id\", 'geometry', {geom}, "
        f"'properties', json_build_object({pairs}))"
    )


@dataclass
class Page:
    features: bytes  # the page's GeoJSON features, comma-separated (inside a JSON array), UTF-8
    returned: int
    matched: int | None  # numberMatched, None when it would be expensive (docs/decisions.md)


# An index visit (bbox) reads a random heap page; a sequential one reads ~100 rows per page.
# Counting is "cheap" when the planner's estimate of rows to visit, in sequential units, stays
# within OGC_COUNT_LIMIT (docs/decisions.md, "numberMatched").
INDEX_VISIT_COST = 10


def page_statement(query: ItemsQuery) -> tuple[str, list[Any]]:
    """The one statement behind a page of /items (also what the benchmark's pgbench runs).

    Returns one row: the page's features as one text, their number, and the exact count of
    matches when counting is cheap (else NULL; the caller ignores it on a last page, where
    ``offset + returned`` is exact for free).
    """
    layer = query.layer
    table = quote_name(layer.table)
    pk = quote_name(layer.model._meta.pk.column)
    where, params = _where(layer, query.q, query.bbox)
    feature = feature_sql(layer, query.fields, query.crs, query.skip_geometry, "t")
    knn = not query.sort and query.bbox is not None
    if knn:
        page, page_params = _nearest_page(query, table, pk, where, params)
    else:
        if query.sort:
            order = ", ".join(
                f"{quote_name(col)} {'DESC' if desc else 'ASC'} NULLS LAST"
                for col, desc in query.sort
            )
            order = f"{order}, {pk}"
        else:
            order = pk
        page = (
            f"page AS (SELECT p.*, row_number() OVER (ORDER BY {order}) AS ioc_rank FROM ("
            f"SELECT * FROM {table} WHERE {where} ORDER BY {order} LIMIT %s OFFSET %s) p)"
        )
        page_params = [*params, query.limit, query.offset]
    if query.bbox is not None:
        estimate = (
            f"{INDEX_VISIT_COST} * ioc_estimated_rows(%s::regclass, %s, "
            "ST_MakeEnvelope(%s, %s, %s, %s, 4326))"
        )
        estimate_params = [layer.table, layer.geometry_column, *query.bbox]
    else:
        estimate = "(SELECT reltuples FROM pg_class WHERE oid = %s::regclass)"
        estimate_params = [layer.table]
    cap = settings.OGC_COUNT_LIMIT
    # The count sub-select is an InitPlan: PostgreSQL runs it only when the CASE needs it,
    # i.e. when the page is full (or empty past the end) and counting is estimated cheap.
    sql = (
        f"WITH {page} "
        f"SELECT coalesce(string_agg({feature}::text, ',' ORDER BY t.ioc_rank), ''), "
        "count(t.*), "
        "CASE WHEN (count(t.*) = %s OR (count(t.*) = 0 AND %s > 0)) "
        f"AND coalesce({estimate}, 0) <= %s THEN "
        f"(SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {where} LIMIT %s) s) END "
        "FROM page t"
    )
    args = [
        *page_params, query.limit, query.offset, *estimate_params, cap, *params, cap + 1,
    ]  # fmt: skip
    return sql, args


def _nearest_page(
    query: ItemsQuery, table: str, pk: str, where: str, params: list[Any]
) -> tuple[str, list[Any]]:
    """A bbox page ordered by distance to the bbox centre, then id.

    The GiST index yields rows nearest first, so the page costs O(offset + limit) however many
    features the bbox holds (ordering the matches by id, or by distance *and* id, reads and
    sorts them all: 1M points, 1,542 in the bbox → 3–7 ms instead of < 1 ms). PostgreSQL cannot
    add the id tie-breaker to an index-ordered distance scan, so the statement takes one row
    more than the page needs; only if that row ties with the page's last one (points at one
    spot, polygons around the centre at distance 0) does it also fetch every row at exactly
    that distance, which makes the (distance, id) order total and paging exact.
    """
    column = quote_name(query.layer.geometry_column)
    minx, miny, maxx, maxy = query.bbox
    centre = [(minx + maxx) / 2, (miny + maxy) / 2]
    point = "ST_SetSRID(ST_MakePoint(%s, %s), 4326)"
    distance = f"{table}.{column} <-> {point}"
    wanted = query.offset + query.limit + 1
    sql = (
        f"k AS MATERIALIZED (SELECT {table}.*, {distance} AS ioc_d FROM {table} "
        f"WHERE {where} ORDER BY ioc_d LIMIT %s), "
        "e AS (SELECT count(*) AS ioc_n, max(ioc_d) AS ioc_edge FROM k), "
        f"c AS (SELECT * FROM k UNION ALL SELECT {table}.*, {distance} FROM {table}, e "
        "WHERE e.ioc_n = %s AND (SELECT count(*) FROM k WHERE k.ioc_d = e.ioc_edge) > 1 "
        f"AND ({where}) AND ST_DWithin({table}.{column}, {point}, e.ioc_edge * 1.000001) "
        f"AND {distance} = e.ioc_edge AND {table}.{pk} NOT IN (SELECT {pk} FROM k)), "
        f"page AS (SELECT c.*, row_number() OVER (ORDER BY ioc_d, {pk}) AS ioc_rank FROM c "
        f"ORDER BY ioc_d, {pk} LIMIT %s OFFSET %s)"
    )
    args = [
        *centre, *params, wanted,
        *centre, wanted, *params, *centre, *centre,
        query.limit, query.offset,
    ]  # fmt: skip
    return sql, args


def fetch_page(query: ItemsQuery, statement: tuple[str, list[Any]] | None = None) -> Page:
    """The page, its size and numberMatched (exact, or None when counting is expensive).
    ``statement``: ``page_statement(query)``, when the caller has it already."""
    if query.empty:
        return Page(b"", 0, 0)
    sql, args = statement or page_statement(query)
    if query.q:  # filters compiled by Django's ORM: keep its client-side binding
        with connection.cursor() as cursor:
            cursor.execute(sql, args)
            features, returned, counted = cursor.fetchone()
        features = features.encode()
    else:  # our own SQL, values all bound: plan once per connection; the features stay bytes
        features, returned, counted = fetchone_prepared(sql, args, raw_text=True)
    if returned < query.limit and (returned > 0 or query.offset == 0):
        return Page(features, returned, query.offset + returned)  # the last page: exact for free
    cap = settings.OGC_COUNT_LIMIT
    return Page(features, returned, counted if counted is not None and counted <= cap else None)


def fetch_feature(
    layer: FeatureLayer, fields: Mapping[str, Any], crs, pk: Any, skip_geometry: bool = False
) -> tuple[str, int] | None:
    """(GeoJSON text, version) of one feature of the layer, or None."""
    table = quote_name(layer.table)
    where, params = _where(layer, Q())
    sql = (
        f'SELECT {feature_sql(layer, fields, crs, skip_geometry, table)}::text, {table}."version" '
        f"FROM {table} WHERE ({where}) AND {table}.{quote_name(layer.model._meta.pk.column)} = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, pk])
        row = cursor.fetchone()
    return (row[0], row[1]) if row else None


def parse_pk(raw: str) -> int | None:
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if 0 < value < 2**63 else None


def extent(layer: FeatureLayer) -> list[float] | None:
    where, params = _where(layer, Q())
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
            f"(SELECT ST_Extent({quote_name(layer.geometry_column)}) e "
            f"FROM {quote_name(layer.table)} "
            f"WHERE {where}) s",
            params,
        )
        row = cursor.fetchone()
    if not row or row[0] is None:
        return None
    return [round(v, 6) for v in row]


def now_stamp() -> str:
    return timezone.now().replace(microsecond=0).isoformat().replace("+00:00", "Z")
