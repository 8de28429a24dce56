"""Vector tiles (MVT) straight from PostGIS, with our own tile SQL.

One tile is one statement: the tile envelope is built once in Web Mercator and transformed
once to the table's lon/lat (so the GiST index on ``geom`` does the selection), and only the
selected rows are transformed to 3857 for ``ST_AsMVTGeom``. Generalisation per zoom comes
from the layer's ``tile_options`` in the registry: simplification and dropping of sub-pixel
polygons, grid clustering of points at low zooms (``point_count``), zoom limits. A line or
polygon tile that would exceed ``MAX_TILE_BYTES`` drops its smallest features in the same
statement; a tile still too big is drawn again generalised harder (``render_spec``).

A tile depends only on the rows whose bounding box meets its *query envelope* (the tile plus
its buffer, or the bare tile when points are clustered, whose grid cells align with tiles):
``query_margin`` says which, and the invalidation (``tiles/invalidation.py``) uses the same
rule, so an edit removes exactly the tiles it can change.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from django.db import connection

from geo.db import fetchone_prepared, quote_name, read_optimistically
from layers.registry import FeatureLayer, TileOptions

EXTENT = 4096  # MVT coordinate units per tile side
BUFFER = 64  # MVT units drawn beyond the tile edge (symbols and strokes are not cut)
MAX_TILE_BYTES = 500 * 1024
# A point layer with more points than this in one tile (planner estimate; tipg stops drawing at
# the same number) is clustered at any zoom: point by point it would be slow and near 500 KB.
DENSE_TILE_POINTS = 10_000
EARTH_CIRCUMFERENCE = 2 * math.pi * 6378137.0
EARTH_RADIUS = EARTH_CIRCUMFERENCE / (2 * math.pi)
MAX_ZOOM = 24
HISTORY_TABLE = "layers_featurehistory"
BOX_AREA_FUNCTION = "ioc_mercator_box_area"  # tiles/migrations/0002_mercator_box_area.py
MAX_LAT = 85.0511287798066  # Web Mercator's edge
# Cluster centroids are sums of Web Mercator coordinates in integer millimetres: integer sums
# do not depend on the order rows are added, so the pyramid (tiles/clusters.py), kept up to
# date edit by edit, and a cluster computed on the fly agree to the last bit.
QUANTUM = 1000


def resolution(z: int) -> float:
    """Metres per 256-px tile pixel at zoom ``z`` (Web Mercator)."""
    return EARTH_CIRCUMFERENCE / (256 * 2**z)


@dataclass(frozen=True)
class TileSpec:
    """What one MVT layer of a tile draws: a table, its attributes and how to generalise."""

    name: str  # the MVT layer name
    table: str
    geom_column: str
    id_column: str
    columns: tuple[tuple[str, str], ...]  # (attribute, column)
    where: str
    params: tuple[Any, ...]
    geometry_kind: str  # "point" | "line" | "polygon"
    options: TileOptions
    min_zoom: int = 0  # of this MVT layer (a secondary geometry may start later)
    # The cluster pyramid of the table (tiles/clusters.py) and its highest zoom; None: none.
    pyramid: str | None = None
    pyramid_max_zoom: int = -1

    def clustered(self, z: int) -> bool:
        below = self.options.cluster_below_zoom
        return self.geometry_kind == "point" and below is not None and z < below

    def visible(self, z: int) -> bool:
        return max(self.min_zoom, self.options.min_zoom) <= z <= self.options.max_zoom

    def pyramid_zoom(self, z: int, scale: float = 1.0) -> int | None:
        """The pyramid level whose cells are this tile's clusters (None: cluster on the fly)."""
        if self.pyramid is None or cells_per_tile(self.options, scale) is None:
            return None
        zc = z - round(math.log2(scale))
        return zc if 0 <= zc <= self.pyramid_max_zoom and 2.0 ** (z - zc) == scale else None


def cells_per_tile(options: TileOptions, scale: float = 1.0) -> int | None:
    """Cluster cells per tile side when the cell grid aligns with the tiles, else None.

    Cells are counted from Web Mercator's origin, so a cell of 256 / k pixels lies in one tile.
    """
    px = options.cluster_px * scale
    if px != int(px) or px > 256 or 256 % int(px):
        return None
    return 256 // int(px)


def pyramid_table(table: str) -> str:
    """The cluster pyramid beside ``table`` (same schema): ``<table>__clusters``."""
    return f"{table}__clusters"


def merc_sql(geom: str) -> tuple[str, str]:
    """Web Mercator x and y (metres) of a lon/lat point by plain arithmetic, no ST_Transform."""
    return (
        f"{EARTH_RADIUS!r} * radians(ST_X({geom}))",
        f"{EARTH_RADIUS!r} * ln(tan(pi() / 4 + radians(ST_Y({geom})) / 2))",
    )


def point_cell_sql(geom: str, pk: str, cell: float) -> str:
    """Select-list of one point's cluster terms: _id, cell _cx/_cy, quantised _qx/_qy.

    Shared by the on-the-fly clustering and the pyramid's triggers: both must compute the
    very same floats.
    """
    mx, my = merc_sql(geom)
    return (
        f"{pk} AS _id, floor(({mx}) / {cell!r})::int AS _cx, "
        f"floor(({my}) / {cell!r})::int AS _cy, "
        f"round(({mx}) * {QUANTUM})::bigint AS _qx, round(({my}) * {QUANTUM})::bigint AS _qy"
    )


def centroid_sql(n: str, sx: str, sy: str) -> str:
    """The cluster's point (EPSG:3857) from its count and quantised coordinate sums."""
    return (
        f"ST_SetSRID(ST_MakePoint(({sx})::bigint::float8 / ({n})::float8 / {QUANTUM}, "
        f"({sy})::bigint::float8 / ({n})::float8 / {QUANTUM}), 3857)"
    )


def cell_range_sql(k: int, z: int) -> tuple[str, str]:
    """Conditions on _cx/_cy keeping the cells of tile (b.tx, b.ty) at zoom ``z``."""
    half = k * 2**z // 2 if k * 2**z >= 2 else None
    if half is None:  # one cell bigger than the world's single tile: keep all
        return "TRUE", "TRUE"
    return (
        f"BETWEEN b.tx * {k} - {half} AND b.tx * {k} + {k - 1 - half}",
        f"BETWEEN {half - k} - b.ty * {k} AND {half - 1} - b.ty * {k}",
    )


def _kind(geom_type: str) -> str:
    geom_type = geom_type.upper()
    if "POINT" in geom_type:
        return "point"
    if "LINE" in geom_type:
        return "line"
    return "polygon"


def specs_for(layer: FeatureLayer, fields: Sequence[str]) -> list[TileSpec]:
    """The MVT layers of ``layer``'s tiles for a caller who may see ``fields``.

    A secondary geometry (a camera's field of view) becomes its own MVT layer
    ``<layer>_<column>`` with the same attributes.
    """
    meta = layer.model._meta
    columns = tuple((name, meta.get_field(name).column) for name in fields)
    where, params = layer.sql_filter()
    main = TileSpec(
        name=layer.id,
        table=layer.table,
        geom_column=layer.geometry_column,
        id_column=meta.pk.column,
        columns=columns,
        where=where,
        params=tuple(params),
        geometry_kind=_kind(layer.geometry_type),
        options=layer.tile_options,
    )
    if pyramid_levels(layer) is not None:
        main = replace(
            main, pyramid=pyramid_table(layer.table), pyramid_max_zoom=pyramid_levels(layer)
        )
    specs = [main]
    for column in layer.secondary_geometry_fields:
        field = meta.get_field(column)
        specs.append(
            replace(
                main,
                name=f"{layer.id}_{column}",
                geom_column=field.column,
                geometry_kind=_kind(field.geom_type),
                options=replace(layer.tile_options, cluster_below_zoom=None),
                min_zoom=layer.tile_options.secondary_min_zoom,
                pyramid=None,
                pyramid_max_zoom=-1,
            )
        )
    return specs


# Layers are immutable registry entries, so their MVT layers for a set of fields are built once
# per worker (on a cold CPU between two tiles, building them again cost ~0.07 ms a tile).
# Keyed by the layer's identity (a layer holding a dict is not hashable); the entry keeps the
# layer alive, so its id cannot be reused while it is remembered.
_layer_specs: dict[tuple[int, tuple[str, ...]], tuple[FeatureLayer, list[TileSpec]]] = {}


def layer_specs(layer: FeatureLayer, fields: Sequence[str]) -> list[TileSpec]:
    """``specs_for(layer, fields)``, remembered per worker; do not modify the list."""
    key = (id(layer), tuple(fields))
    known = _layer_specs.get(key)
    if known is None or known[0] is not layer:
        if len(_layer_specs) >= 1024:  # layers replaced over and over (tests): start afresh
            _layer_specs.clear()
        known = _layer_specs[key] = (layer, specs_for(layer, fields))
    return known[1]


def pyramid_levels(layer: FeatureLayer) -> int | None:
    """The highest zoom of ``layer``'s cluster pyramid (levels 0…it), None: it has none.

    Only a layer of single points, clustered on a grid aligned with the tiles, whose every
    row is drawn (no row filter: ``tiles/clusters.py`` refuses one in a system check).
    """
    opts = layer.tile_options
    if not (opts.cluster_pyramid and opts.cluster_below_zoom) or layer.filter:
        return None
    if layer.geometry_type.upper() != "POINT" or cells_per_tile(opts) is None:
        return None
    top = max(opts.cluster_below_zoom - 1, opts.dense_max_zoom or -1)
    return top if top >= 0 else None


def query_margin(spec: TileSpec, z: int) -> float:
    """The query envelope's margin around the tile, as a fraction of the tile side."""
    return 0.0 if spec.clustered(z) else BUFFER / EXTENT


def tile_sql(
    spec: TileSpec,
    z: int,
    *,
    scale: float = 1.0,
    dense: bool | None = False,
    pyramid: bool = True,
) -> tuple[str, list[Any]]:
    """One SELECT returning the MVT bytes of ``spec`` for a tile; params: z, x, y, z, x, y, then
    the returned list.

    ``scale`` > 1 generalises harder (used when a tile would exceed ``MAX_TILE_BYTES``);
    ``dense`` clusters a point layer at any zoom (see ``DENSE_TILE_POINTS``); ``dense=None``
    lets the statement decide (``dense_sql``) and return whether it did as a second column,
    for a tile that may be dense (``may_be_dense``). Clusters are read from the
    table's cluster pyramid where it has the level (``pyramid=False``: computed from the
    points, the reference the pyramid is tested against).
    The statement returns nothing else, so pgbench can run it as the "SQL ceiling".
    """
    # Every tile of a layer and zoom has the same statement: built once per worker (~0.04 ms
    # a tile on a cold CPU). The dense limit is part of the key (tests change it).
    try:
        sql, params = _tile_sql_memo(spec, z, scale, dense, pyramid, DENSE_TILE_POINTS)
    except TypeError:  # a row filter value that cannot be hashed: build it every time
        return _tile_sql(spec, z, scale, dense, pyramid)
    return sql, list(params)


@lru_cache(maxsize=4096)
def _tile_sql_memo(
    spec: TileSpec, z: int, scale: float, dense: bool | None, pyramid: bool, _limit: int
) -> tuple[str, tuple[Any, ...]]:
    sql, params = _tile_sql(spec, z, scale, dense, pyramid)
    return sql, tuple(params)


def _tile_sql(
    spec: TileSpec, z: int, scale: float, dense: bool | None, pyramid: bool
) -> tuple[str, list[Any]]:
    if dense is None:
        check = dense_sql(spec, z)
        if check is None:
            raise ValueError(f"{spec.name} cannot be dense at zoom {z} (may_be_dense): pass False")
        return _decided_sql(spec, z, scale, check, pyramid)
    # A point layer too dense for one tile is clustered even where it normally is not.
    if spec.clustered(z) or (spec.geometry_kind == "point" and (scale > 1 or dense)):
        ctes, select, on_the_fly = _clustered_parts(spec, z, scale, pyramid)
        envelope = (
            "WITH b AS MATERIALIZED (SELECT env, ST_Transform(env, 4326) AS qenv, tx, ty FROM "
            "(SELECT ST_TileEnvelope(%s::int, %s::int, %s::int) AS env, %s::int AS tz, "
            "%s::int AS tx, %s::int AS ty) e)"
        )
        return f"{envelope}, {ctes} {select}", list(spec.params) if on_the_fly else []
    envelope = (
        "WITH b AS MATERIALIZED (SELECT ST_TileEnvelope(%s::int, %s::int, %s::int) AS env, "
        "ST_Transform(ST_TileEnvelope(%s::int, %s::int, %s::int, "
        f"margin => {query_margin(spec, z)!r}), 4326) AS qenv)"
    )
    return f"{envelope} {_plain_select(spec, z, scale)}", list(spec.params)


def _clustered_parts(
    spec: TileSpec, z: int, scale: float, pyramid: bool, qenv: str = "qenv"
) -> tuple[str, str, bool]:
    """The CTEs (cells of this tile) and the SELECT of a clustered tile, and whether the cells
    are computed on the fly from the points (the CTEs then hold ``spec.where``, so take
    ``spec.params``); they read CTE ``b`` (env, tx, ty, and ``qenv``: the bare tile in
    lon/lat, when clustering on the fly)."""
    opts = spec.options
    table = quote_name(spec.table)  # "schema.table" (the benchmark's tables): two identifiers
    geom, pk = f"t.{quote_name(spec.geom_column)}", f"t.{quote_name(spec.id_column)}"
    cell = opts.cluster_px * resolution(z) * scale
    k = cells_per_tile(opts, scale)
    in_x, in_y = cell_range_sql(k, z) if k else ("TRUE", "TRUE")
    zc = spec.pyramid_zoom(z, scale) if pyramid else None
    if zc is not None:
        # The pyramid's cells of this tile: an index range scan, whatever the point count.
        pyr = quote_name(pyramid_table(spec.table))
        ctes = (
            f"cells AS (SELECT c.id AS _id, c.n AS point_count, "
            f"{centroid_sql('c.n', 'c.sx', 'c.sy')} AS _g FROM {pyr} c, b "
            f"WHERE c.z = {zc} AND c.cx {in_x} AND c.cy {in_y})"
        )
    else:
        # Web Mercator x/y computed from lon/lat with plain arithmetic (no ST_Transform
        # per point), grouped on a grid aligned with the tiles; only the cells of this tile
        # are kept (a point on its edge belongs to the neighbour's cell).
        ctes = (
            f"pts AS (SELECT {point_cell_sql(geom, pk, cell)} FROM {table} t, b "
            f"WHERE {geom} && b.{qenv} AND ({spec.where})), "
            "cells AS (SELECT min(_id) AS _id, count(*) AS point_count, "
            f"{centroid_sql('count(*)', 'sum(_qx)', 'sum(_qy)')} AS _g FROM pts, b "
            f"WHERE _cx {in_x} AND _cy {in_y} GROUP BY _cx, _cy)"
        )
    name = spec.name.replace("'", "''")
    select = (
        f"SELECT ST_AsMVT(q, '{name}', {EXTENT}, 'geom', 'id') FROM ("
        "SELECT c._id AS id, c.point_count"
        + "".join(f", t.{quote_name(col)} AS {quote_name(n)}" for n, col in spec.columns)
        + f", ST_AsMVTGeom(c._g, b.env, {EXTENT}, {BUFFER}, true) AS geom "
        f"FROM cells c CROSS JOIN b LEFT JOIN {table} t "
        f"ON {pk} = c._id AND c.point_count = 1"
        ") q WHERE geom IS NOT NULL"
    )
    return ctes, select, zc is None


def _plain_select(spec: TileSpec, z: int, scale: float) -> str:
    """The SELECT of an unclustered tile; it reads CTE ``b`` (env, qenv: the query envelope)."""
    res = resolution(z)
    opts = spec.options
    table = quote_name(spec.table)
    geom, pk = f"t.{quote_name(spec.geom_column)}", f"t.{quote_name(spec.id_column)}"
    attrs = "".join(f", t.{quote_name(col)} AS {quote_name(name)}" for name, col in spec.columns)
    name = spec.name.replace("'", "''")
    where = f"{geom} && b.qenv AND ({spec.where})"
    g3857 = f"ST_Transform({geom}, 3857)"
    filters = ""
    if spec.geometry_kind != "point" and opts.simplify_px > 0:
        g3857 = f"ST_Simplify({g3857}, {opts.simplify_px * res * scale!r}, true)"
    measure = {"polygon": "ST_Area", "line": "ST_Length"}.get(spec.geometry_kind)
    if spec.geometry_kind == "polygon" and opts.min_area_px > 0:
        min_area = opts.min_area_px * (res * scale) ** 2
        filters = f" AND s.ioc_size >= {min_area!r}"
        # A polygon's Web Mercator area is at most its bounding box's, which plain arithmetic
        # on the lon/lat box gives (SQL function ioc_mercator_box_area, tiles/migrations/0002):
        # sub-pixel polygons are dropped before ST_Transform. Polygon layers carry a GiST index
        # on (geom, box area) (tiles/indexes.py), so at low zooms, where nearly every polygon is
        # sub-pixel, the index itself passes over the rest. The exact test above still
        # decides the rest; (1 - 1e-9): float rounding never drops one it would keep.
        where += f" AND {BOX_AREA_FUNCTION}({geom}) >= {min_area * (1 - 1e-9)!r}"
    # OFFSET 0 keeps each subquery from being folded into its parent: the transformed
    # geometry and the clipped one are computed once per row, not once per reference.
    size = ", s.ioc_size" if measure else ""
    sized = (
        f" CROSS JOIN LATERAL (SELECT {measure}(m._g) AS ioc_size OFFSET 0) s" if measure else ""
    )
    rows = (
        f"SELECT {pk} AS id{attrs}, "
        f"ST_AsMVTGeom(m._g, b.env, {EXTENT}, {BUFFER}, true) AS geom{size} "
        f"FROM {table} t CROSS JOIN b "
        f"CROSS JOIN LATERAL (SELECT {g3857} AS _g OFFSET 0) m{sized} "
        f"WHERE {where}{filters} OFFSET 0"
    )
    if measure is None:
        return (
            f"SELECT ST_AsMVT(q, '{name}', {EXTENT}, 'geom', 'id') FROM ({rows}) q "
            "WHERE geom IS NOT NULL"
        )
    # Lines and polygons: the largest first, until the tile's estimated size reaches
    # MAX_TILE_BYTES; the smallest beyond it are dropped (tippecanoe's "drop smallest as
    # needed"), in the same statement. Drawing the tile whole and then again generalised harder
    # cost twice: a 1 MB z9 tile of 100,000 parcels took 210 + 100 ms that way, 185 ms this way,
    # and kept the detail of the features it keeps.
    kept = ", ".join(["id", *(quote_name(n) for n, _col in spec.columns), "geom"])
    return (
        f"SELECT ST_AsMVT(q, '{name}', {EXTENT}, 'geom', 'id') FROM (SELECT {kept} FROM ("
        f"SELECT r.*, sum({_feature_bytes_sql(spec, 'r')}) OVER (ORDER BY r.ioc_size DESC, "
        f"r.id ROWS UNBOUNDED PRECEDING) AS ioc_bytes FROM ({rows}) r "
        f"WHERE r.geom IS NOT NULL) w WHERE w.ioc_bytes <= {MAX_TILE_BYTES}) q"
    )


# What one feature adds to an MVT layer, estimated from its clipped geometry and attributes:
# id, type, lengths and a tag pair per attribute (~12 bytes), ~3 bytes a vertex (command and
# zigzag deltas), each attribute value's bytes plus framing (values shared by several features
# are counted for each: an overestimate). On a 1 MB z9 tile of 19,651 parcels the estimate of
# the kept features came to 512,000 bytes for 491,719 drawn.
FEATURE_BYTES, VERTEX_BYTES, VALUE_BYTES = 12, 3, 4


def _feature_bytes_sql(spec: TileSpec, alias: str) -> str:
    return f"{FEATURE_BYTES} + {VERTEX_BYTES} * ST_NPoints({alias}.geom)" + "".join(
        f" + {VALUE_BYTES} + coalesce(octet_length({alias}.{quote_name(n)}::text), 0)"
        for n, _col in spec.columns
    )


def _decided_sql(
    spec: TileSpec, z: int, scale: float, check: str, pyramid: bool
) -> tuple[str, list[Any]]:
    """A tile that may be dense, decided inside one statement: CASE on ``check`` between the
    clustered and the point-by-point tile (each the very statement ``tile_sql`` gives for
    dense=True/False, as a scalar subquery). PostgreSQL runs an uncorrelated scalar subquery
    (an InitPlan) only when its value is first needed, so only the branch taken is executed;
    asking first cost a round trip and a statement (0.2 ms a tile back to back, ~0.7 ms in
    the server between two requests)."""
    ctes, clustered, on_the_fly = _clustered_parts(spec, z, scale, pyramid, qenv="cqenv")
    # b carries both query envelopes: the plain tile's (with its buffer) and, for clustering
    # on the fly, the bare tile's (cells decide membership there, exactly as tile_sql's).
    cqenv = ", ST_Transform(env, 4326) AS cqenv" if on_the_fly else ""
    margin = query_margin(spec, z)
    sql = (
        "WITH b AS MATERIALIZED (SELECT env, "
        f"ST_Transform(ST_TileEnvelope(tz, tx, ty, margin => {margin!r}), 4326) AS qenv"
        f"{cqenv}, tx, ty FROM (SELECT ST_TileEnvelope(%s::int, %s::int, %s::int) AS env, "
        "%s::int AS tz, %s::int AS tx, %s::int AS ty) e), "
        f"d AS MATERIALIZED (SELECT {check} AS dense FROM b) "
        f"SELECT CASE WHEN d.dense THEN (WITH {ctes} {clustered}) "
        f"ELSE ({_plain_select(spec, z, scale)}) END, d.dense FROM d"
    )
    # parameters in the order of the text: the clustered branch's, then the plain one's
    return sql, list(spec.params) * (2 if on_the_fly else 1)


def dense_sql(spec: TileSpec, z: int) -> str | None:
    """A boolean SQL expression over CTE ``b`` (env, tx, ty): would this tile hold more than
    ``DENSE_TILE_POINTS`` points of a point layer drawn unclustered? None: it cannot be dense
    (not a point layer, clustered anyway, above the layer's ``dense_max_zoom``).

    Where the cluster pyramid has this zoom, its cells count the tile's points exactly (an
    index range scan of at most 256 rows); elsewhere PostGIS's planner statistics estimate it
    (microseconds).
    """
    if not may_be_dense(spec, z):
        return None
    zc = spec.pyramid_zoom(z)
    if zc is not None:
        in_x, in_y = cell_range_sql(cells_per_tile(spec.options), z)
        pyr = quote_name(pyramid_table(spec.table))
        return (
            f"(SELECT coalesce(sum(c.n), 0) FROM {pyr} c "
            f"WHERE c.z = {zc} AND c.cx {in_x} AND c.cy {in_y}) > {DENSE_TILE_POINTS}"
        )
    # Unknown (a table never ANALYZEd): not dense.
    return (
        f"coalesce(ioc_estimated_rows({_literal(spec.table)}::regclass, "
        f"{_literal(spec.geom_column)}, ST_Transform(b.env, 4326)) > {DENSE_TILE_POINTS}, false)"
    )


def may_be_dense(spec: TileSpec, z: int) -> bool:
    """Can a tile of ``spec`` at zoom ``z`` hold too many points to draw them one by one?"""
    if spec.geometry_kind != "point" or spec.clustered(z):
        return False
    declared = spec.options.dense_max_zoom
    return declared is None or z <= declared  # above it, the layer says no tile is dense


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def is_dense(cursor, spec: TileSpec, z: int, x: int, y: int) -> bool:
    """Would this tile hold more than ``DENSE_TILE_POINTS`` of a point layer drawn unclustered?
    (``dense_sql`` on its own; the renderer asks inside the tile's statement instead.)"""
    check = dense_sql(spec, z)
    if check is None:
        return False
    (dense,) = fetchone_prepared(
        f"SELECT {check} FROM (SELECT ST_TileEnvelope(%s::int, %s::int, %s::int) AS env, "
        "%s::int AS tx, %s::int AS ty) b",
        [z, x, y, x, y],
        cursor,
    )
    return dense


def check_tile_address(z: int, x: int, y: int) -> None:
    if not 0 <= z <= MAX_ZOOM:
        raise ValueError(f"zoom {z} is outside 0–{MAX_ZOOM}")
    n = 2**z
    if not (0 <= x < n and 0 <= y < n):
        raise ValueError(f"tile {x}/{y} is outside zoom {z} (0–{n - 1})")


@dataclass(frozen=True)
class Rendered:
    data: bytes
    scale: float  # > 1: generalised harder to stay under MAX_TILE_BYTES
    dense: bool  # clustered because the tile holds too many points
    sql: str = ""  # the statement that drew it (params: z, x, y, z, x, y, *spec.params…)


def render_spec(cursor, spec: TileSpec, z: int, x: int, y: int) -> Rendered:
    """One MVT layer of a tile, generalised until it fits ``MAX_TILE_BYTES``."""
    # A tile that may be too dense to draw point by point decides so in its own statement.
    dense: bool | None = None if may_be_dense(spec, z) else False
    scale = 1.0
    while True:
        sql, params = tile_sql(spec, z, scale=scale, dense=dense)
        # prepared: planning a tile statement cost 0.3–0.5 ms, a third of a cheap tile;
        # binary: the bytes as they are, not hex text twice their size for PostgreSQL to
        # encode and psycopg to decode (~3 µs a KB: 0.4 ms of a 110 KB z10–z12 point tile)
        row = fetchone_prepared(sql, [z, x, y, z, x, y, *params], cursor, binary=True)
        data = bytes(row[0] or b"")
        if dense is None:
            dense = bool(row[1])
        # Too big (points too many to draw, or lines and polygons whose size estimate fell
        # short): generalise harder rather than ship it — one zoom's worth at a time (×4
        # dropped every parcel of a 560 KB z9 tile: an empty tile).
        if len(data) <= MAX_TILE_BYTES or scale >= 64:
            return Rendered(data, scale, dense, sql)
        scale *= 2


def render_specs(specs: Sequence[TileSpec], z: int, x: int, y: int) -> bytes:
    """The MVT bytes of several MVT layers (concatenated layers form one valid tile)."""
    check_tile_address(z, x, y)
    return read_optimistically(lambda: _render_specs(specs, z, x, y))


def _render_specs(specs: Sequence[TileSpec], z: int, x: int, y: int) -> bytes:
    with connection.cursor() as cursor:
        return b"".join(
            render_spec(cursor, spec, z, x, y).data for spec in specs if spec.visible(z)
        )
