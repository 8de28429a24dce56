"""Live map updates as server-sent events, fed by the database's change notifications.

Each stream holds its own PostgreSQL connection that ``LISTEN``s on settings.IOC_CHANGE_CHANNEL
(``NOTIFY`` fires after commit, from any client: the app, QGIS, psql). Events carry the
history id as their SSE id, so a browser that reconnects (``Last-Event-ID``) first catches up
from ``layers_featurehistory`` and loses nothing. A stream is bounded — a heartbeat comment
every VIEWER_SSE_HEARTBEAT s and an end after VIEWER_SSE_LIFETIME s — because under granian's
WSGI interface every open stream holds one of a worker's blocking threads. For the same reason
a worker keeps at most VIEWER_SSE_STREAMS streams open: a stream beyond that sends what is new
since Last-Event-ID (and its own id) and ends with ``retry`` set to VIEWER_SSE_OVERFLOW_RETRY, so
that browser polls and loses nothing while the worker's other threads stay free for tiles and
pages (five quick map loads once stalled a worker for 30 s). Only layers the caller may see are
forwarded.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import psycopg
from django.conf import settings
from psycopg import sql

from geo.db import conninfo
from layers.models import FeatureHistory
from layers.registry import registry

CATCH_UP_LIMIT = 1000


def _event(payload: dict) -> str:
    data = {
        "layer": payload.get("layer"),
        "old_layer": payload.get("old_layer"),
        "id": payload.get("id"),
        "op": payload.get("op"),
        "version": payload.get("version"),
        "history_id": payload.get("history_id"),
        "old_bbox": payload.get("old_bbox"),
        "new_bbox": payload.get("new_bbox"),
    }
    head = f"id: {data['history_id']}\n" if data["history_id"] is not None else ""
    return f"{head}event: change\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


_slots = threading.Lock()
_open_streams = 0


def _take_slot() -> bool:
    global _open_streams
    with _slots:
        if _open_streams >= settings.VIEWER_SSE_STREAMS:
            return False
        _open_streams += 1
        return True


def _release_slot() -> None:
    global _open_streams
    with _slots:
        _open_streams -= 1


def _catch_up(execute, last_event_id: int, visible: set[str]) -> Iterator[tuple[int, str]]:
    """(history id, SSE event) of the visible changes after ``last_event_id``."""
    rows = execute(
        f"SELECT id, layer, feature_id, op, version, old_bbox, new_bbox "
        f"FROM {FeatureHistory._meta.db_table} WHERE id > %s AND layer = ANY(%s) "
        f"ORDER BY id LIMIT %s",
        [last_event_id, list(visible), CATCH_UP_LIMIT],
    )
    for hid, layer, fid, op, version, old_bbox, new_bbox in rows:
        payload = {
            "layer": layer,
            "id": fid,
            "op": op,
            "version": version,
            "history_id": hid,
            "old_bbox": old_bbox,
            "new_bbox": new_bbox,
        }
        yield hid, _event(payload)


def _overflow(visible: set[str], last_event_id: int | None) -> Iterator[str]:
    """A short stream for a worker with no stream slot left: what is new, our position, bye."""
    from django.db import connection

    def execute(query, params):
        with connection.cursor() as cursor:
            cursor.execute(query, params)
            return cursor.fetchall()

    yield f"retry: {settings.VIEWER_SSE_OVERFLOW_RETRY}\n: busy, poll\n\n"
    if last_event_id is None:
        # No catch-up to do, but the reconnect must start from here: an id-only event sets
        # the browser's Last-Event-ID without dispatching anything.
        ((top,),) = execute(f"SELECT coalesce(max(id), 0) FROM {FeatureHistory._meta.db_table}", [])
        yield f"id: {top}\n\n"
    else:
        for _hid, event in _catch_up(execute, last_event_id, visible):
            yield event
    yield "event: bye\ndata: {}\n\n"


def stream(user, last_event_id: int | None = None) -> Iterator[str]:
    """The SSE body: catch-up since ``last_event_id``, then live changes, then a clean end."""
    visible = {layer.id for layer in registry.visible_to(user)}
    if not _take_slot():
        yield from _overflow(visible, last_event_id)
        return
    try:
        yield from _live(visible, last_event_id)
    finally:
        _release_slot()


def _live(visible: set[str], last_event_id: int | None) -> Iterator[str]:
    heartbeat = settings.VIEWER_SSE_HEARTBEAT
    deadline = time.monotonic() + settings.VIEWER_SSE_LIFETIME
    conn = psycopg.connect(
        conninfo(connect_timeout=5, application_name="ioc-viewer-events"), autocommit=True
    )
    try:
        # LISTEN before reading the catch-up rows, so nothing falls between the two.
        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(settings.IOC_CHANGE_CHANNEL)))
        yield f"retry: 2000\n: {len(visible)} layers\n\n"
        sent = last_event_id or 0
        if last_event_id is not None:

            def execute(query, params):
                return conn.execute(query, params).fetchall()

            for hid, event in _catch_up(execute, last_event_id, visible):
                sent = hid
                yield event
        while (remaining := deadline - time.monotonic()) > 0:
            got = False
            for notify in conn.notifies(timeout=min(heartbeat, remaining), stop_after=1):
                got = True
                try:
                    payload = json.loads(notify.payload)
                except ValueError:
                    continue
                if payload.get("layer") not in visible and payload.get("old_layer") not in visible:
                    continue
                hid = payload.get("history_id")
                if hid is not None and hid <= sent:
                    continue  # already sent during catch-up
                sent = hid or sent
                yield _event(payload)
            if not got:
                yield ": ping\n\n"
        yield "event: bye\ndata: {}\n\n"
    finally:
        conn.close()
