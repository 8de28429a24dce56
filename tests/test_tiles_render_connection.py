"""Rendering a tile on a reused database connection (tiles/mvt.py ``render_specs``): no
health-check round trip before the tile's statement, and a connection found dead is replaced
and the tile drawn on the new one, as Django's check (CONN_HEALTH_CHECKS) would have."""

from __future__ import annotations

import morecantile
import psycopg
from django.db import connection, connections

from geo.db import conninfo
from layers.registry import registry
from tiles import mvt

TMS = morecantile.tms.get("WebMercatorQuad")
LON, LAT = 105.8442, 21.5942


def test_no_health_check_on_a_live_connection_and_a_dead_one_is_replaced(committed, monkeypatch):
    specs = mvt.specs_for(registry.get("schools"), ("name",))
    tile = TMS.tile(LON, LAT, 14)
    expected = mvt.render_specs(specs, 14, tile.x, tile.y)
    assert expected and not connection.in_atomic_block
    # on the wrapper itself: undoing a monkeypatch through the `connection` proxy deletes the
    # attribute, and every later test's first query then fails
    db = connections["default"]
    monkeypatch.setattr(db, "health_check_enabled", True)
    checks = []
    real_is_usable = connection.is_usable

    def is_usable():
        checks.append(True)
        return real_is_usable()

    monkeypatch.setattr(db, "is_usable", is_usable)

    # a new request on the live connection: the tile's statement is the first and only one
    connection.health_check_done = False  # what Django sets at every request's start
    assert mvt.render_specs(specs, 14, tile.x, tile.y) == expected
    assert checks == []

    # the connection dies between requests (database restart, idle timeout, …)
    dead = connection.connection.info.backend_pid
    with psycopg.connect(conninfo(), autocommit=True) as other:
        assert other.execute("SELECT pg_terminate_backend(%s, 5000)", [dead]).fetchone()[0]
    connection.health_check_done = False
    assert mvt.render_specs(specs, 14, tile.x, tile.y) == expected
    assert checks == [True]  # asked once, after the statement had failed
    assert connection.connection.info.backend_pid != dead
