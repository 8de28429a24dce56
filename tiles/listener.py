"""The change listener: ``LISTEN ioc_changes`` and invalidate the tiles each edit touches.

Every edit — admin, OGC API, importers, QGIS or psql — NOTIFYs through the database triggers
(``layers/sql/capture.sql``) after commit. After downtime the listener catches up from the
history table, whose rows carry the same old/new bounding boxes, starting after the last
history id it recorded (a small JSON file beside the cache). Re-applying a change only
deletes tiles again, so the catch-up overlaps a little to cover transactions that committed
out of id order.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from pathlib import Path

import psycopg
from django.conf import settings
from psycopg import sql

from geo.db import conninfo
from layers.models import FeatureHistory
from tiles.cache import TileCacheBase, get_cache
from tiles.invalidation import handle_change

log = logging.getLogger("tiles.listener")

CATCHUP_OVERLAP = 200  # history ids re-applied before the recorded one (out-of-order commits)


class ChangeListener:
    def __init__(
        self,
        dsn: str | None = None,
        cache: TileCacheBase | None = None,
        state_path: Path | None = None,
    ) -> None:
        self.dsn = dsn or conninfo()
        self.cache = cache or get_cache()
        self.state_path = state_path or Path(settings.TILE_CACHE_DIR) / ".listener-state.json"
        self.channel = settings.IOC_CHANGE_CHANNEL
        self.last_history_id = 0
        self.processed = 0
        self.removed = 0
        self.ready = threading.Event()
        self._changed = threading.Condition()
        self._dirty = False

    # --- state ---------------------------------------------------------------------------
    def _load_state(self) -> int | None:
        try:
            return int(json.loads(self.state_path.read_text())["last_history_id"])
        except FileNotFoundError:
            return None

    def _save_state(self) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.state_path.parent, prefix=".tmp-")
        with os.fdopen(fd, "w") as handle:
            json.dump({"last_history_id": self.last_history_id, "saved_at": time.time()}, handle)
        os.replace(tmp, self.state_path)
        self._dirty = False

    # --- work ----------------------------------------------------------------------------
    def _apply(self, payload: dict) -> None:
        self.removed += handle_change(payload, self.cache)
        self.processed += 1
        history_id = payload.get("history_id")
        with self._changed:
            if history_id and history_id > self.last_history_id:
                self.last_history_id = history_id
            self._dirty = True
            self._changed.notify_all()

    def catch_up(self, conn: psycopg.Connection) -> int:
        table = sql.Identifier(FeatureHistory._meta.db_table)
        start = self._load_state()
        if start is None:
            # Never ran with this cache: we cannot know what is stale in it, so start clean.
            if self.cache.keys():
                log.warning("no listener state: clearing the tile cache once")
                self.cache.clear()
            row = conn.execute(sql.SQL("SELECT coalesce(max(id), 0) FROM {}").format(table))
            self.last_history_id = row.fetchone()[0]
            self._save_state()
            return 0
        self.last_history_id = start
        done = 0
        cursor = conn.execute(
            sql.SQL(
                "SELECT id, layer, old_bbox, new_bbox, CASE WHEN op = 'U' AND "
                "old_data->>'layer' IS DISTINCT FROM new_data->>'layer' "
                "THEN old_data->>'layer' END FROM {} WHERE id > %s ORDER BY id"
            ).format(table),
            [max(0, start - CATCHUP_OVERLAP)],
        )
        for hid, layer, old_bbox, new_bbox, old_layer in cursor:
            self._apply(
                {
                    "history_id": hid,
                    "layer": layer,
                    "old_layer": old_layer,
                    "old_bbox": old_bbox,
                    "new_bbox": new_bbox,
                }
            )
            done += 1
        self._save_state()
        log.info("caught up %d changes (history id %d)", done, self.last_history_id)
        return done

    def run(self, stop: threading.Event | None = None) -> None:
        stop = stop or threading.Event()
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
            self.catch_up(conn)  # after LISTEN: nothing can fall between the two
            self.ready.set()
            last_save = time.monotonic()
            while not stop.is_set():
                for notify in conn.notifies(timeout=0.5):
                    try:
                        payload = json.loads(notify.payload)
                    except ValueError:
                        log.error("ignoring a malformed notification: %r", notify.payload[:200])
                        continue
                    self._apply(payload)
                    if stop.is_set():
                        break
                if self._dirty and time.monotonic() - last_save > 0.5:
                    self._save_state()
                    last_save = time.monotonic()
            if self._dirty:
                self._save_state()

    def wait_for(self, history_id: int, timeout: float = 5.0) -> bool:
        """Block until the change with ``history_id`` (or a later one) was applied."""
        with self._changed:
            return self._changed.wait_for(lambda: self.last_history_id >= history_id, timeout)
