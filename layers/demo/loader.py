"""Runs the demo sections in order, each in its own transaction as the demo-loader actor."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import TextIO

from django.utils import timezone

from layers.demo import ACTOR
from layers.demo.accounts import load_accounts
from layers.demo.admin_units import load_crosswalk, load_units
from layers.demo.cameras import load_cameras
from layers.demo.db import fetch
from layers.demo.facilities import load_health, load_schools
from layers.demo.field_reports import load_reports
from layers.demo.geo import Context
from layers.demo.sources import DemoDataError
from layers.demo.traffic import load_nodes, load_segments
from layers.services import acting_as

# Synthetic point layers: table → every demo row must lie in the province and have a commune.
POINT_TABLES = {
    "cameras": "layers_camera",
    "traffic nodes": "layers_trafficnode",
    "schools": "layers_school",
    "health facilities": "layers_healthfacility",
    "field reports": "layers_fieldreport",
}


def anchor_time() -> datetime:
    """The moment of the first load (the earliest demo row), or now for a first load."""
    (first,) = fetch(
        "SELECT least("
        "(SELECT min(created_at) FROM layers_adminunit WHERE created_by = %s), "
        "(SELECT min(created_at) FROM layers_camera WHERE created_by = %s), "
        "(SELECT min(created_at) FROM layers_fieldreport WHERE created_by = %s))",
        [ACTOR, ACTOR, ACTOR],
    )[0]
    return (first or timezone.now()).replace(microsecond=0)


def verify_inside(section: str) -> None:
    """Every demo row of a point layer is covered by the province and lies in a commune."""
    table = POINT_TABLES.get(section)
    if table is not None:
        condition = "NOT ST_Covers(p.geom, t.geom) OR t.commune_id IS NULL"
    elif section == "road segments":
        table, condition = "layers_roadsegment", "NOT ST_Covers(p.geom, t.geom)"
    else:
        return
    (bad,) = fetch(
        f'SELECT count(*) FROM "{table}" t, layers_adminunit p '
        f"WHERE p.layer = 'province' AND t.created_by = %s AND ({condition})",
        [ACTOR],
    )[0]
    if bad:
        raise DemoDataError(f"{section}: {bad} rows lie outside the province or any commune")


def load_demo(stdout: TextIO | None = None, verbosity: int = 1) -> dict[str, int | None]:
    """Load every section; returns section → rows written (None: already loaded)."""

    def say(text: str) -> None:
        if stdout is not None and verbosity > 0:
            stdout.write(text + "\n")

    context: Context | None = None

    def ctx() -> Context:
        nonlocal context
        if context is None:
            context = Context(anchor_time())
        return context

    sections: list[tuple[str, Callable[[], tuple[int, str] | None]]] = [
        ("admin units", load_units),
        ("commune crosswalk", load_crosswalk),
        ("road segments", lambda: load_segments(ctx())),
        ("traffic nodes", lambda: load_nodes(ctx())),
        ("cameras", lambda: load_cameras(ctx())),
        ("schools", lambda: load_schools(ctx())),
        ("health facilities", lambda: load_health(ctx())),
        ("field reports", lambda: load_reports(ctx())),
        ("accounts", load_accounts),
    ]
    results: dict[str, int | None] = {}
    started = time.monotonic()
    for name, run in sections:
        t0 = time.monotonic()
        with acting_as(ACTOR):
            outcome = run()
            if outcome is not None:
                verify_inside(name)
        seconds = time.monotonic() - t0
        if outcome is None:
            results[name] = None
            say(f"  {name:<18} already loaded ({seconds:.1f} s)")
        else:
            rows, note = outcome
            results[name] = rows
            say(f"  {name:<18} {rows:>5} rows  {seconds:5.1f} s  {note}")
    anchor = timezone.localtime(context.anchor if context is not None else anchor_time())
    say(f"Demo data ready in {time.monotonic() - started:.1f} s (anchor {anchor:%Y-%m-%d %H:%M}).")
    return results
