"""Database helpers of the demo loader: COPY, queries, and the "already loaded?" check."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection

from layers.demo import ACTOR


class HalfLoaded(Exception):
    """A section's rows are partly there: the loader will not guess how to complete them."""


def copy_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """COPY rows into a table on Django's connection (inside the caller's transaction).

    Geometries are given as EWKT text ('SRID=4326;POINT(…)'); the table's triggers fire.
    """
    connection.ensure_connection()
    raw = connection.connection
    names = ", ".join(f'"{c}"' for c in columns)
    count = 0
    with raw.cursor() as cursor:
        with cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
    return count


def fetch(sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def execute(sql: str, params: Sequence[Any] | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def present_keys(table: str, key: str, *, demo_only: bool = True) -> set:
    """Keys of the rows already in ``table`` (only those the demo loader wrote, by default)."""
    where = "WHERE created_by = %s" if demo_only else ""
    params = [ACTOR] if demo_only else []
    return {row[0] for row in fetch(f'SELECT "{key}" FROM "{table}" {where}', params)}


def section_state(section: str, expected: set, present: set, how_to_fix: str) -> bool:
    """True: load the section; False: it is complete already. Raises when it is partial."""
    if not present:
        return True
    if present == expected:
        return False
    missing, extra = expected - present, present - expected
    raise HalfLoaded(
        f"{section}: the demo data is only partly present ({len(expected & present)} of "
        f"{len(expected)} rows; {len(missing)} missing, {len(extra)} unexpected, e.g. "
        f"{sorted(map(str, missing or extra))[:3]}). {how_to_fix}"
    )


def ewkt(geom) -> str:
    """A shapely geometry as EWKT in SRID 4326, with coordinates rounded to 1e-7° (~1 cm)."""
    import shapely

    return "SRID=4326;" + shapely.to_wkt(geom, rounding_precision=7, trim=True)
