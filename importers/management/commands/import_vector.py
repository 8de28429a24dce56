"""python manage.py import_vector PATH --layer ID [...]: a file into a layer, or nothing."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from importers.engine import MODES, Options, run_import
from importers.errors import ImportFailed


class Command(BaseCommand):
    help = (
        "Nhập tệp véc-tơ (Shapefile/zip, GeoPackage, GeoJSON, FlatGeobuf, KML/KMZ, CSV, XLSX) "
        "vào một lớp, trong một giao dịch / Import a vector file into a layer, transactionally."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("path")
        parser.add_argument("--layer", required=True, help="layer id (layers/catalog.py)")
        parser.add_argument("--mode", choices=MODES, default="append")
        parser.add_argument("--key", help="key field for upsert/replace (default: the layer's)")
        parser.add_argument("--encoding", default="auto", help="auto|tcvn3|vni|viqr|cp1258|utf-8")
        parser.add_argument("--srs", default="auto", help="auto|EPSG:N (the file's CRS)")
        parser.add_argument("--field-map", help="JSON/YAML {layer_field: file_field}")
        parser.add_argument("--dry-run", action="store_true")
        parser.add_argument("--skip-invalid", action="store_true")
        parser.add_argument("--extent", choices=("province", "country"), default="province")
        parser.add_argument("--actor", default="importer", help="name recorded in history")
        parser.add_argument("--report", help="write the JSON report to this file")
        parser.add_argument("--batch-size", type=int)
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **opts) -> None:
        options = Options(
            mode=opts["mode"],
            key=opts["key"],
            encoding=opts["encoding"],
            srs=opts["srs"],
            field_map=opts["field_map"],
            dry_run=opts["dry_run"],
            skip_invalid=opts["skip_invalid"],
            extent=opts["extent"],
            batch_size=opts["batch_size"],
        )
        try:
            report = run_import(
                Path(opts["path"]),
                opts["layer"],
                options,
                actor=opts["actor"],
                show_progress=not opts["no_progress"],
            )
        except ImportFailed as exc:
            failed = exc.details.get("report")
            if failed is not None:
                failed.error = {"code": exc.code, "message": str(exc)}
                self.stdout.write(failed.to_text(limit=50))
                if opts["report"]:
                    Path(opts["report"]).write_text(failed.to_json(), encoding="utf-8")
            raise CommandError(f"[{exc.code}] {exc}") from exc
        self.stdout.write(report.to_text(limit=50))
        if opts["report"]:
            Path(opts["report"]).write_text(report.to_json(), encoding="utf-8")
