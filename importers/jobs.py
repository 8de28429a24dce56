"""Background import jobs for the admin: a thread per job, all state in the database.

The import itself runs in one transaction on the thread's own connection; progress goes
through a second, autocommit connection so the page can show it while that transaction
is still open. A job interrupted by a restart stays "running" with no thread: ``recover``
(called when the upload page loads) marks such stale jobs failed.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from pathlib import Path

import psycopg
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from geo.db import conninfo
from importers.engine import Options, run_import
from importers.errors import ImportFailed
from importers.models import ImportJob

log = logging.getLogger(__name__)
_running: set[int] = set()


def start(job: ImportJob) -> None:
    """Run ``job`` in a thread once the transaction that created it commits."""

    def launch() -> None:
        thread = threading.Thread(
            target=run_job, args=(job.pk,), daemon=True, name=f"import-{job.pk}"
        )
        _running.add(job.pk)
        thread.start()

    transaction.on_commit(launch)


def run_job(pk: int) -> None:
    close_old_connections()
    table = ImportJob._meta.db_table
    try:
        job = ImportJob.objects.select_related("created_by").get(pk=pk)
        ImportJob.objects.filter(pk=pk).update(
            status=ImportJob.Status.RUNNING, started_at=timezone.now()
        )
        with psycopg.connect(conninfo(), autocommit=True) as side:
            last = [0.0]

            def progress(read: int, total: int | None) -> None:
                now = time.monotonic()
                if now - last[0] >= 0.5:
                    last[0] = now
                    side.execute(
                        f'UPDATE "{table}" SET "read" = %s, "total" = %s WHERE id = %s',
                        [read, total, pk],
                    )

            opts = job.options
            actor = job.created_by or "importer"
            try:
                report = run_import(
                    Path(job.upload),
                    job.layer_id,
                    Options(
                        mode=opts.get("mode", "append"),
                        key=opts.get("key") or None,
                        encoding=opts.get("encoding", "auto"),
                        srs=opts.get("srs", "auto"),
                        dry_run=bool(opts.get("dry_run")),
                        skip_invalid=bool(opts.get("skip_invalid")),
                    ),
                    actor=actor,
                    progress=progress,
                )
            except ImportFailed as exc:
                failed = exc.details.get("report")
                data = None
                text = ""
                if failed is not None:
                    failed.error = {"code": exc.code, "message": str(exc)}
                    data, text = failed.as_dict(), failed.to_text()
                ImportJob.objects.filter(pk=pk).update(
                    status=ImportJob.Status.FAILED,
                    error=f"[{exc.code}] {exc}",
                    report=data,
                    report_text=text,
                    finished_at=timezone.now(),
                )
                return
            ImportJob.objects.filter(pk=pk).update(
                status=ImportJob.Status.DONE,
                read=report.counts["read"],
                total=report.counts["read"],
                report=report.as_dict(),
                report_text=report.to_text(),
                finished_at=timezone.now(),
            )
    except Exception as exc:  # a bug must still end the job visibly, never hang it
        log.exception("import job %s crashed", pk)
        ImportJob.objects.filter(pk=pk).update(
            status=ImportJob.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}",
            finished_at=timezone.now(),
        )
    finally:
        _running.discard(pk)
        connection.close()


def recover() -> None:
    """Jobs left running by a process that is gone are failed, with a message saying so."""
    stale = timezone.now() - timedelta(hours=6)
    ImportJob.objects.filter(
        status__in=[ImportJob.Status.RUNNING, ImportJob.Status.QUEUED], created_at__lt=stale
    ).exclude(pk__in=list(_running)).update(
        status=ImportJob.Status.FAILED,
        error="Tiến trình nhập đã dừng (máy chủ khởi động lại); hãy nhập lại. / The import "
        "process stopped (server restart); run it again.",
        finished_at=timezone.now(),
    )
