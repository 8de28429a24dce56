"""Vector tiles (MVT) straight from PostGIS, with our own tile SQL.

One tile is one statement: the tile envelope is built once in Web Mercator and transformed
once to the table's lon/lat (so the GiST index on ``geom`` does the selection), and only the
selected rows are transformed to 3857 for ``ST_AsMVTGeom``. Generalisation per zoom comes
from the layer's ``tile_options`` in the registry: simplification and dropping of sub-pixel
polygons, grid clustering of points at low zooms (``point_count``), zoom limits.

A tile depends only on the rows whose bounding box meets its *query envelope* (the tile plus
its buffer, or the bare tile when points are clustered, whose grid cells align with tiles):
``query_margin`` says which, and the invalidation (``tiles/invalidation.py``) uses the same
rule, so an edit removes exactly the tiles it can change.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from django.db import connection

from layers.registry import FeatureLayer, TileOptions

EXTENT = 4096  # MVT coordinate units per tile side
BUFFER = 64  # MVT units drawn beyond the tile edge (symbols and strokes are not cut)
MAX_TILE_BYTES = 500 * 1024
# A point layer with more points than this in one tile (planner estimate; tipg stops drawing at
# the same number) is clustered at any zoom: point by point it would be slow and near 500 KB.
DENSE_TILE_POINTS = 10_000
EARTH_CIRCUMFERENCE = 2 * math.pi * 6378137.0
MAX_ZOOM = 24
HISTORY_TABLE = "layers_featurehistory"


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

    def clustered(self, z: int) -> bool:
        below = self.options.cluster_below_zoom
        return self.geometry_kind == "point" and below is not None and z < below

    def visible(self, z: int) -> bool:
        return max(self.min_zoom, self.options.min_zoom) <= z <= self.options.max_zoom


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
        geom_column=meta.get_field(layer.geometry_field).column,
        id_column=meta.pk.column,
        columns=columns,
        where=where,
        params=tuple(params),
        geometry_kind=_kind(layer.geometry_type),
        options=layer.tile_options,
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
            )
        )
    return specs


def query_margin(spec: TileSpec, z: int) -> float:
    """The query envelope's margin around the tile, as a fraction of the tile side."""
    return 0.0 if spec.clustered(z) else BUFFER / EXTENT


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def tile_sql(
    spec: TileSpec, z: int, *, scale: float = 1.0, dense: bool = False
) -> tuple[str, list[Any]]:
    """One SELECT returning the MVT bytes of ``spec`` for a tile; params: z, x, y first.

    ``scale`` > 1 generalises harder (used when a tile would exceed ``MAX_TILE_BYTES``);
    ``dense`` clusters a point layer at any zoom (see ``DENSE_TILE_POINTS``).
    The statement also returns nothing else, so pgbench can run it as the "SQL ceiling".
    """
    res = resolution(z)
    opts = spec.options
    # "schema.table" (the benchmark's tables) is two identifiers
    table = ".".join(_q(part) for part in spec.table.split("."))
    geom, pk = f"t.{_q(spec.geom_column)}", f"t.{_q(spec.id_column)}"
    attrs = "".join(f", t.{_q(col)} AS {_q(name)}" for name, col in spec.columns)
    # A point layer too dense for one tile is clustered even where it normally is not.
    clustered = spec.clustered(z) or (spec.geometry_kind == "point" and (scale > 1 or dense))
    margin = 0.0 if clustered else query_margin(spec, z)
    envelope = (
        "WITH b AS MATERIALIZED (SELECT ST_TileEnvelope(%s, %s, %s) AS env, "
        f"ST_Transform(ST_TileEnvelope(%s, %s, %s, margin => {margin!r}), 4326) AS qenv)"
    )
    where = f"{geom} && b.qenv AND ({spec.where})"
    name = spec.name.replace("'", "''")
    if clustered:
        cell = opts.cluster_px * res * scale
        # Web Mercator x/y computed from lon/lat with plain arithmetic (no ST_Transform per
        # point), grouped on a grid; only a lone point's row is read back for its attributes.
        # A tile of 1M points clusters ~4× faster this way than transforming every point.
        r = EARTH_CIRCUMFERENCE / (2 * math.pi)
        mx = f"{r!r} * radians(ST_X({geom}))"
        my = f"{r!r} * ln(tan(pi() / 4 + radians(ST_Y({geom})) / 2))"
        sql = (
            f"{envelope}, pts AS (SELECT {pk} AS _id, {mx} AS _x, {my} AS _y "
            f"FROM {table} t, b WHERE {where}), "
            "cells AS (SELECT min(_id) AS _id, count(*) AS point_count, "
            "ST_SetSRID(ST_MakePoint(avg(_x), avg(_y)), 3857) AS _g FROM pts "
            f"GROUP BY floor(_x / {cell!r}), floor(_y / {cell!r})) "
            f"SELECT ST_AsMVT(q, '{name}', {EXTENT}, 'geom', 'id') FROM ("
            "SELECT c._id AS id, c.point_count"
            + "".join(f", t.{_q(col)} AS {_q(n)}" for n, col in spec.columns)
            + f", ST_AsMVTGeom(c._g, b.env, {EXTENT}, {BUFFER}, true) AS geom "
            f"FROM cells c CROSS JOIN b LEFT JOIN {table} t "
            f"ON {pk} = c._id AND c.point_count = 1"
            ") q WHERE geom IS NOT NULL"
        )
    else:
        g3857 = f"ST_Transform({geom}, 3857)"
        filters = ""
        if spec.geometry_kind != "point" and opts.simplify_px > 0:
            g3857 = f"ST_Simplify({g3857}, {opts.simplify_px * res * scale!r}, true)"
        if spec.geometry_kind == "polygon" and opts.min_area_px > 0:
            min_area = opts.min_area_px * (res * scale) ** 2
            filters = f" AND ST_Area(m._g) >= {min_area!r}"
        sql = (
            f"{envelope} SELECT ST_AsMVT(q, '{name}', {EXTENT}, 'geom', 'id') FROM ("
            f"SELECT {pk} AS id{attrs}, "
            f"ST_AsMVTGeom(m._g, b.env, {EXTENT}, {BUFFER}, true) AS geom "
            f"FROM {table} t CROSS JOIN b CROSS JOIN LATERAL (SELECT {g3857} AS _g) m "
            f"WHERE {where}{filters}) q WHERE geom IS NOT NULL"
        )
    return sql, list(spec.params)


def is_dense(cursor, spec: TileSpec, z: int, x: int, y: int) -> bool:
    """Would this tile hold more than ``DENSE_TILE_POINTS`` of a point layer drawn unclustered?

    Asks PostGIS's planner statistics (microseconds), not a count.
    """
    if spec.geometry_kind != "point" or spec.clustered(z):
        return False
    cursor.execute(
        "SELECT ioc_estimated_rows(%s::regclass, %s, "
        "ST_Transform(ST_TileEnvelope(%s, %s, %s), 4326))",
        [spec.table, spec.geom_column, z, x, y],
    )
    estimate = cursor.fetchone()[0]
    return estimate is not None and estimate > DENSE_TILE_POINTS


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


def render_spec(cursor, spec: TileSpec, z: int, x: int, y: int) -> Rendered:
    """One MVT layer of a tile, generalised until it fits ``MAX_TILE_BYTES``."""
    dense = is_dense(cursor, spec, z, x, y)
    scale = 1.0
    while True:
        sql, params = tile_sql(spec, z, scale=scale, dense=dense)
        cursor.execute(sql, [z, x, y, z, x, y, *params])
        data = bytes(cursor.fetchone()[0] or b"")
        # Too big (a dense layer at low zoom): generalise harder rather than ship it.
        if len(data) <= MAX_TILE_BYTES or scale >= 64:
            return Rendered(data, scale, dense)
        scale *= 4


def render_specs(specs: Sequence[TileSpec], z: int, x: int, y: int) -> bytes:
    """The MVT bytes of several MVT layers (concatenated layers form one valid tile)."""
    check_tile_address(z, x, y)
    with connection.cursor() as cursor:
        return b"".join(
            render_spec(cursor, spec, z, x, y).data for spec in specs if spec.visible(z)
        )
