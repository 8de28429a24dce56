"""python manage.py import_raster PATH --layer ID: a raster → a served COG layer."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from importers.errors import ImportFailed
from importers.raster import import_raster


class Command(BaseCommand):
    help = (
        "Nhập ảnh raster (GeoTIFF hoặc định dạng GDAL bất kỳ) thành COG EPSG:3857 có tổng quan, "
        "đăng ký làm lớp ảnh / Import a raster as a Cloud-Optimised GeoTIFF layer (EPSG:3857)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("path")
        parser.add_argument("--layer", required=True)
        parser.add_argument("--title", help="tên lớp hiển thị / display title")
        parser.add_argument("--render", default="relief", help="relief | hillshade")
        parser.add_argument("--srs", help="the raster's CRS when it declares none (EPSG:N)")
        parser.add_argument("--actor", default="importer")

    def handle(self, *args, **opts) -> None:
        try:
            report = import_raster(
                opts["path"],
                opts["layer"],
                title=opts["title"],
                render=opts["render"],
                srs=opts["srs"],
                actor=opts["actor"],
            )
        except ImportFailed as exc:
            raise CommandError(f"[{exc.code}] {exc}") from exc
        self.stdout.write(report.to_text())
