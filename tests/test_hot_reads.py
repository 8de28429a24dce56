"""geo.db.fetchone_prepared: hot reads prepared per connection, executed outside transactions
as one libpq call (geo.db._Hot) and inside them through psycopg's cursor — same answers,
same errors, bounded statements, recovery when a pooler deallocates them."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from geo.db import fetchone_prepared

SQL = "SELECT %s::bigint + 1, %s::text || '%%', %s::float8 * 2"


def _statements() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements WHERE name LIKE 'ioc_hot_%%'")
        return {row[0] for row in cursor.fetchall()}


def test_direct_path_answers_like_the_cursor_path(committed):
    # ints of different sizes are dumped with different types: two statements, both right
    for value in (1, 2**40):
        before = _statements()
        direct = fetchone_prepared(SQL, [value, "phố", 1.25])
        assert _statements() - before  # it ran as a new named statement of ours
        with transaction.atomic():
            in_transaction = fetchone_prepared(SQL, [value, "phố", 1.25])
        assert direct == in_transaction == (value + 1, "phố%", 2.5)
    assert fetchone_prepared(SQL, [1, "phố", 1.25], raw_text=True)[1] == "phố%".encode()
    assert fetchone_prepared("SELECT 1 WHERE %s", [False]) is None


def test_statements_are_bounded_and_reprepared_after_discard(committed):
    connection.ensure_connection()
    conn = connection.connection
    old = conn.prepared_max
    conn.prepared_max = 2
    try:
        for n in range(4):
            assert fetchone_prepared(f"SELECT %s::int + {n}", [1]) == (1 + n,)
        assert len(_statements()) == 2  # the two most recently used
        with connection.cursor() as cursor:
            cursor.execute("DEALLOCATE ALL")  # what a pooler's DISCARD ALL does to them
        assert fetchone_prepared("SELECT %s::int + 3", [1]) == (4,)
    finally:
        conn.prepared_max = old


def test_an_error_is_djangos_and_leaves_the_connection_usable(committed):
    with pytest.raises(DatabaseError, match="division by zero"):
        fetchone_prepared("SELECT 1 / %s::int", [0])
    with pytest.raises(DatabaseError, match="bogus_column"):
        fetchone_prepared("SELECT bogus_column FROM (SELECT %s::int) s", [0])
    assert fetchone_prepared("SELECT %s::int", [7]) == (7,)
    assert connection.is_usable()
