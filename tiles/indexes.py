"""Indexes the tile SQL relies on beyond each table's GiST index, kept in step with the registry.

Polygon layers that drop sub-pixel polygons (``TileOptions.min_area_px``) get a GiST index on
``(geom, ioc_mercator_box_area(geom))`` (``tiles/migrations/0002`` and ``0003``, btree_gist): a
tile asks for the polygons that meet it and whose box covers at least a sub-pixel area at its
zoom, and the index answers both at once. On 100,000 parcels a btree on the box area alone took
the z0–z6 tiles from reading every polygon in them (90–200 ms) to reading none; the combined
index does that too, and at z7–z9, where both conditions leave many polygons, it no longer
fetches and tests each polygon the area rules out (the bench's polygon tiles: 4.3 → 3.2–3.8 s
in all). Installed after every migrate (``tiles/apps.py``) and for the benchmark's tables
(``tiles/bench.py``); the btree of earlier versions is dropped.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import connections, transaction

from geo.db import quote_name
from layers.registry import FeatureLayer, registry
from tiles import mvt


def wants_box_area_index(layer: FeatureLayer) -> bool:
    return (
        mvt._kind(layer.geometry_type) == "polygon"
        and layer.tile_options.min_area_px > 0
        and layer.supports_vector_tiles
    )


def install_box_area_index(
    cursor, layer: FeatureLayer, say: Callable[[str], None] | None = None
) -> bool:
    """Create the layer's (geom, box area) index if it is missing (then ANALYZE, so the planner
    knows the sizes), dropping the earlier btree on the box area alone. Returns whether it was
    created."""
    schema, _, name = layer.table.rpartition(".")
    index = f"{name}_ioc_geom_box_area"[:63]
    cursor.execute(
        "SELECT 1 FROM pg_indexes WHERE schemaname = coalesce(nullif(%s, ''), current_schema()) "
        "AND indexname = %s",
        [schema, index],
    )
    if cursor.fetchone():
        return False
    table = quote_name(layer.table)
    column = quote_name(layer.geometry_column)
    if say:
        say(f"index {index}: creating …")
    legacy = f"{name}_ioc_box_area"[:63]
    cursor.execute(f"DROP INDEX IF EXISTS {quote_name(f'{schema}.{legacy}' if schema else legacy)}")
    cursor.execute(
        f"CREATE INDEX {quote_name(index)} ON {table} "
        f"USING gist ({column}, {mvt.BOX_AREA_FUNCTION}({column}))"
    )
    cursor.execute(f"ANALYZE {table}")
    return True


def install(using: str = "default", say: Callable[[str], None] | None = None) -> int:
    """The box-area indexes of every registry layer that wants one (tables shared by several
    layers get one index)."""
    created, seen = 0, set()
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        for layer in registry.feature_layers():
            if wants_box_area_index(layer) and layer.table not in seen:
                seen.add(layer.table)
                created += install_box_area_index(cursor, layer, say)
    return created
