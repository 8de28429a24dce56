"""Indexes the tile SQL relies on beyond each table's GiST index, kept in step with the registry.

Polygon layers that drop sub-pixel polygons (``TileOptions.min_area_px``) get a btree index on
``ioc_mercator_box_area(geom)`` (``tiles/migrations/0002``): a low-zoom tile asks for polygons
whose box covers at least a few pixels, and the index hands over just those — on 100,000 parcels,
a z0–z6 tile went from reading every polygon in it (90–200 ms) to reading none. Installed after
every migrate (``tiles/apps.py``) and for the benchmark's tables (``tiles/bench.py``).
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
    """Create the layer's box-area index if it is missing (then ANALYZE, so the planner knows
    the sizes). Returns whether it was created."""
    schema, _, name = layer.table.rpartition(".")
    index = f"{name}_ioc_box_area"[:63]
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
    cursor.execute(
        f"CREATE INDEX {quote_name(index)} ON {table} ({mvt.BOX_AREA_FUNCTION}({column}))"
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
