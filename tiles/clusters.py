"""The cluster pyramid: point clusters of every clustered zoom, precomputed and kept exact.

A clustered point tile used to group every point of the tile on the fly (the 1M-point z0 tile
took ~1.9 s). Each point layer that clusters (``TileOptions.cluster_below_zoom``, and up to
``dense_max_zoom`` for dense tiles) gets a table ``<table>__clusters`` beside its own, one row
per non-empty grid cell and zoom: the same Web Mercator grid as the on-the-fly clustering
(cell = ``cluster_px`` × resolution(z), counted from the projection's origin, so cells nest
exactly from zoom to zoom and lie inside one tile), with the point count ``n``, the sums of the
points' coordinates in integer millimetres ``sx``/``sy`` (centroid = sum / n) and the lowest
id (the lone point of an n = 1 cell, and the cluster's feature id). A tile then reads at most
256 rows by an index range scan.

The pyramid is maintained in the transaction of the edit, whatever the client (service
functions, importers' COPY, QGIS or psql), by STATEMENT-level triggers with transition tables:
a statement's changed points are grouped once at the finest level, added as deltas, and every
coarser level is recomputed from its children for the cells touched only. Writers of one
layer are serialised by a transaction advisory lock (they already meet at the coarsest cell).
The triggers and tables are installed from the registry after every ``migrate`` (like
``layers/capture.py``'s) and by ``manage.py rebuild_clusters``; the benchmark's tables go
through the same ``install_pyramid``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from django.core.checks import Error, Tags, register
from django.db import connections, transaction

from geo.db import quote_name
from layers.registry import FeatureLayer, registry
from tiles import mvt

VERSION = 1  # bump when the pyramid's content or triggers change: pyramids are rebuilt
TRIGGERS = ("tiles_clusters_ins", "tiles_clusters_upd", "tiles_clusters_del", "tiles_clusters_trn")


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class Pyramid:
    table: str  # the layer's table ("schema.table" allowed)
    geom: str
    pk: str
    max_zoom: int
    cluster_px: int

    @classmethod
    def of(cls, layer: FeatureLayer) -> Pyramid | None:
        top = mvt.pyramid_levels(layer)
        if top is None:
            return None
        meta = layer.model._meta
        return cls(
            table=layer.table,
            geom=layer.geometry_column,
            pk=meta.pk.column,
            max_zoom=top,
            cluster_px=layer.tile_options.cluster_px,
        )

    @property
    def name(self) -> str:
        return mvt.pyramid_table(self.table)

    @property
    def function(self) -> str:
        return "ioc_clusters_" + "".join(c if c.isalnum() else "_" for c in self.table)

    @property
    def cell(self) -> float:
        """Cell side (metres) at the finest level: exactly what ``tiles/mvt.py`` computes."""
        return self.cluster_px * mvt.resolution(self.max_zoom)

    def points_sql(self, source: str) -> str:
        """id, finest cell and quantised coordinates of the points of ``source`` (alias t)."""
        geom = f"t.{quote_name(self.geom)}"
        cells = mvt.point_cell_sql(geom, f"t.{quote_name(self.pk)}", self.cell)
        # Points beyond Web Mercator's edge (or empty) are in no tile: not in the pyramid.
        return (
            f"SELECT {cells.replace(' AS _', ' AS ')} FROM {source} t "
            f"WHERE abs(ST_Y({geom})) <= {mvt.MAX_LAT!r}"
        )

    def tag(self, table_oid: int) -> str:
        return (
            f"tiles.clusters v{VERSION} table={table_oid} zoom=0-{self.max_zoom} "
            f"px={self.cluster_px} geom={self.geom} pk={self.pk}"
        )


def pyramids() -> list[tuple[FeatureLayer, Pyramid]]:
    return [(la, p) for la in registry.feature_layers() if (p := Pyramid.of(la)) is not None]


def _function_sql(p: Pyramid) -> str:
    pyr, base = quote_name(p.name), quote_name(p.table)
    top = p.max_zoom
    mx, my = mvt.merc_sql(f"t.{quote_name(p.geom)}")
    r = mvt.EARTH_RADIUS
    # the finest cell's lon/lat box (a hair larger), to find its points by the GiST index
    lon = f"degrees(({{}}) * {p.cell!r} / {r!r})"
    lat = f"degrees(2 * atan(exp(({{}}) * {p.cell!r} / {r!r})) - pi() / 2)"
    cell_box = (
        f"ST_MakeEnvelope({lon.format('p.cx')} - 1e-9, {lat.format('p.cy')} - 1e-9, "
        f"{lon.format('p.cx + 1')} + 1e-9, {lat.format('p.cy + 1')} + 1e-9, 4326)"
    )
    recompute_min = (
        f"UPDATE {pyr} p SET id = (SELECT min(t.{quote_name(p.pk)}) FROM {base} t "
        f"WHERE t.{quote_name(p.geom)} && {cell_box} "
        f"AND floor(({mx}) / {p.cell!r})::int = p.cx AND floor(({my}) / {p.cell!r})::int = p.cy) "
        "FROM (SELECT DISTINCT * FROM unnest(gx, gy, gid) AS g(cx, cy, id)) g "
        f"WHERE p.z = {top} AND p.cx = g.cx AND p.cy = g.cy AND p.id = g.id"
    )
    into = "SELECT array_agg(cx), array_agg(cy), array_agg(n), array_agg(sx), array_agg(sy), "
    into += "array_agg(id) INTO xs, ys, ns, sxs, sys, mins FROM d"
    return f"""
CREATE OR REPLACE FUNCTION {p.function}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
  xs int[]; ys int[]; ns int[]; sxs bigint[]; sys bigint[]; mins bigint[];
  gx int[]; gy int[]; gid bigint[];
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    DELETE FROM {pyr};
    RETURN NULL;
  END IF;
  -- one writer of this pyramid at a time (they would meet at the coarsest cell anyway)
  PERFORM pg_advisory_xact_lock(hashtext({_literal("tiles.clusters:" + p.name)}));
  IF TG_OP = 'INSERT' THEN
    WITH d AS (SELECT cx, cy, count(*)::int AS n, sum(qx)::bigint AS sx, sum(qy)::bigint AS sy,
               min(id) AS id FROM ({p.points_sql("new_rows")}) s GROUP BY cx, cy)
    {into};
  ELSIF TG_OP = 'DELETE' THEN
    WITH d AS (SELECT cx, cy, -count(*)::int AS n, -sum(qx)::bigint AS sx,
               -sum(qy)::bigint AS sy, NULL::bigint AS id
               FROM ({p.points_sql("old_rows")}) s GROUP BY cx, cy)
    {into};
    SELECT array_agg(cx), array_agg(cy), array_agg(id) INTO gx, gy, gid
    FROM ({p.points_sql("old_rows")}) s;
  ELSE
    -- an update that keeps a row's id and point cancels out (attribute edits cost nothing)
    WITH o AS ({p.points_sql("old_rows")}), nw AS ({p.points_sql("new_rows")}),
    s AS (SELECT *, -1 AS sign FROM (SELECT * FROM o EXCEPT ALL SELECT * FROM nw) m
          UNION ALL SELECT *, 1 FROM (SELECT * FROM nw EXCEPT ALL SELECT * FROM o) a),
    d AS (SELECT cx, cy, sum(sign)::int AS n, sum(sign * qx)::bigint AS sx,
          sum(sign * qy)::bigint AS sy, min(id) FILTER (WHERE sign > 0) AS id
          FROM s GROUP BY cx, cy)
    {into};
    SELECT array_agg(cx), array_agg(cy), array_agg(id) INTO gx, gy, gid
    FROM ({p.points_sql("old_rows")} EXCEPT ALL {p.points_sql("new_rows")}) g;
  END IF;
  IF xs IS NULL THEN
    RETURN NULL;
  END IF;
  INSERT INTO {pyr} AS p (z, cx, cy, n, sx, sy, id)
  SELECT {top}, u.* FROM unnest(xs, ys, ns, sxs, sys, mins) AS u
  ON CONFLICT (z, cx, cy) DO UPDATE SET n = p.n + excluded.n, sx = p.sx + excluded.sx,
    sy = p.sy + excluded.sy, id = least(p.id, excluded.id);
  DELETE FROM {pyr} p USING unnest(xs, ys) AS u(cx, cy)
  WHERE p.z = {top} AND p.cx = u.cx AND p.cy = u.cy AND p.n <= 0;
  IF gid IS NOT NULL THEN
    -- a cell that lost its lowest id reads it again from its points
    {recompute_min};
  END IF;
  FOR zz IN REVERSE {top} - 1 .. 0 LOOP
    WITH a AS (SELECT DISTINCT u.cx >> ({top} - zz) AS cx, u.cy >> ({top} - zz) AS cy
               FROM unnest(xs, ys) AS u(cx, cy)),
    agg AS (SELECT a.cx, a.cy, sum(c.n)::int AS n, sum(c.sx)::bigint AS sx,
            sum(c.sy)::bigint AS sy, min(c.id) AS id
            FROM a LEFT JOIN {pyr} c ON c.z = zz + 1 AND c.cx BETWEEN a.cx * 2 AND a.cx * 2 + 1
            AND c.cy BETWEEN a.cy * 2 AND a.cy * 2 + 1 GROUP BY a.cx, a.cy),
    gone AS (DELETE FROM {pyr} p USING agg
             WHERE p.z = zz AND p.cx = agg.cx AND p.cy = agg.cy AND agg.n IS NULL)
    INSERT INTO {pyr} AS p (z, cx, cy, n, sx, sy, id)
    SELECT zz, cx, cy, n, sx, sy, id FROM agg WHERE n IS NOT NULL
    ON CONFLICT (z, cx, cy) DO UPDATE SET n = excluded.n, sx = excluded.sx, sy = excluded.sy,
      id = excluded.id;
  END LOOP;
  RETURN NULL;
END $fn$;
"""


def _trigger_sql(p: Pyramid) -> list[str]:
    base, fn = quote_name(p.table), p.function
    out = [f"DROP TRIGGER IF EXISTS {name} ON {base}" for name in TRIGGERS]
    ins, upd, dele, trn = TRIGGERS
    out += [
        f"CREATE TRIGGER {ins} AFTER INSERT ON {base} REFERENCING NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {fn}()",
        f"CREATE TRIGGER {upd} AFTER UPDATE ON {base} REFERENCING OLD TABLE AS old_rows "
        f"NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {fn}()",
        f"CREATE TRIGGER {dele} AFTER DELETE ON {base} REFERENCING OLD TABLE AS old_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {fn}()",
        f"CREATE TRIGGER {trn} AFTER TRUNCATE ON {base} FOR EACH STATEMENT EXECUTE FUNCTION {fn}()",
    ]
    return out


def rebuild(cursor, p: Pyramid, say: Callable[[str], None] | None = None) -> int:
    """Recompute the whole pyramid from the table: one GROUP BY of the points at the finest
    level, then each coarser level from the one below. Returns the number of points."""
    pyr = quote_name(p.name)
    cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ["tiles.clusters:" + p.name])
    cursor.execute(f"DELETE FROM {pyr}")
    started = time.monotonic()
    cursor.execute(
        f"INSERT INTO {pyr} (z, cx, cy, n, sx, sy, id) SELECT {p.max_zoom}, cx, cy, count(*), "
        f"sum(qx)::bigint, sum(qy)::bigint, min(id) FROM ({p.points_sql(quote_name(p.table))}) s "
        "GROUP BY cx, cy"
    )
    cursor.execute(f"SELECT coalesce(sum(n), 0), count(*) FROM {pyr} WHERE z = %s", [p.max_zoom])
    points, cells = cursor.fetchone()
    if say:
        say(
            f"  {p.table}: z{p.max_zoom} {cells:,} cells, {points:,} points "
            f"({time.monotonic() - started:.1f} s)"
        )
    for z in range(p.max_zoom - 1, -1, -1):
        cursor.execute(
            f"INSERT INTO {pyr} (z, cx, cy, n, sx, sy, id) SELECT %s, cx >> 1, cy >> 1, sum(n), "
            f"sum(sx)::bigint, sum(sy)::bigint, min(id) FROM {pyr} WHERE z = %s "
            "GROUP BY cx >> 1, cy >> 1",
            [z, z + 1],
        )
        if say:
            say(f"  {p.table}: z{z} {cursor.rowcount:,} cells")
    cursor.execute(f"ANALYZE {pyr}")
    return int(points)


def install_pyramid(
    cursor, p: Pyramid, *, force: bool = False, say: Callable[[str], None] | None = None
) -> bool:
    """Create (or keep) ``p``'s table, function and triggers; rebuild its content when it is
    new, stale (another version, zoom range, grid or a re-created table) or ``force``d.
    Returns whether it was rebuilt. Run inside a transaction."""
    pyr = quote_name(p.name)
    cursor.execute(
        f"CREATE TABLE IF NOT EXISTS {pyr} (z smallint NOT NULL, cx integer NOT NULL, "
        "cy integer NOT NULL, n integer NOT NULL, sx bigint NOT NULL, sy bigint NOT NULL, "
        "id bigint, PRIMARY KEY (z, cx, cy))"
    )
    cursor.execute(_function_sql(p))
    for statement in _trigger_sql(p):
        cursor.execute(statement)
    cursor.execute(
        "SELECT %s::regclass::oid, obj_description(%s::regclass, 'pg_class')", [p.table, p.name]
    )
    oid, current = cursor.fetchone()
    tag = p.tag(oid)
    if current == tag and not force:
        return False
    rebuild(cursor, p, say)
    cursor.execute(f"COMMENT ON TABLE {pyr} IS {_literal(tag)}")
    return True


def install(using: str = "default", *, force: bool = False, layers=None, say=None) -> int:
    """Install the pyramids of the registry's layers (``layers``: ids, default all)."""
    rebuilt = 0
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        for layer, p in pyramids():
            if layers is None or layer.id in layers:
                rebuilt += install_pyramid(cursor, p, force=force, say=say)
    return rebuilt


@register(Tags.models)
def check_pyramids(app_configs, **kwargs) -> list[Error]:
    """A clustered point layer whose clusters cannot come from a pyramid must say so."""
    errors = []
    for layer in registry.feature_layers():
        opts = layer.tile_options
        if mvt._kind(layer.geometry_type) != "point" or not opts.cluster_below_zoom:
            continue
        if not opts.cluster_pyramid:
            continue
        reason = None
        if layer.filter:
            reason = "has a row filter (the pyramid holds every row of its table)"
        elif layer.geometry_type.upper() != "POINT":
            reason = f"has {layer.geometry_type} geometries (the pyramid holds single points)"
        elif mvt.cells_per_tile(opts) is None:
            reason = f"cluster_px={opts.cluster_px} does not divide the 256-px tile"
        if reason:
            errors.append(
                Error(
                    f"Lớp {layer.id!r} {reason} / Layer {layer.id!r} {reason}.",
                    hint="Set TileOptions(cluster_pyramid=False) to cluster it on the fly, "
                    "or fix the declaration in layers/catalog.py.",
                    id="tiles.E010",
                )
            )
    return errors
