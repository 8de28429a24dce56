"""python manage.py listen_changes — keeps the tile cache exact as features change."""

import logging
import signal
import threading

from django.core.management.base import BaseCommand

from tiles.listener import ChangeListener


class Command(BaseCommand):
    help = (
        "Nghe thay đổi (LISTEN ioc_changes) và xoá đúng các ô bản đồ bị ảnh hưởng. / "
        "Listen for feature changes and invalidate exactly the cached tiles they touch."
    )

    def handle(self, **options) -> None:
        logging.getLogger("tiles").setLevel(logging.INFO)
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        listener = ChangeListener()
        self.stdout.write(
            f"Đang nghe / listening on {listener.channel}; cache {listener.cache.name}"
        )
        listener.run(stop)
        self.stdout.write(
            f"Dừng / stopped: {listener.processed} changes, {listener.removed} tiles removed, "
            f"history id {listener.last_history_id}"
        )
