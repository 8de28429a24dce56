"""Render the map's label glyphs (SDF PBF ranges) from a local font: no internet needed."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from viewer import glyphs


class Command(BaseCommand):
    help = "Render the web map's label glyphs for Vietnamese into settings.VIEWER_GLYPH_DIR."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="re-render existing ranges")

    def handle(self, *args, force: bool = False, **options):
        for fontstack in settings.VIEWER_FONTS:
            try:
                source = glyphs.font_path(fontstack)
            except glyphs.FontMissing as exc:
                raise CommandError(str(exc)) from exc
            for start in glyphs.SETUP_RANGES:
                path = glyphs.range_path(fontstack, start)
                if force and path.exists():
                    path.unlink()
                existed = path.exists()
                glyphs.ensure_range(fontstack, start)
                if options["verbosity"] >= 1:
                    state = "có sẵn / exists" if existed else f"tạo từ / from {source.name}"
                    self.stdout.write(f"{fontstack} {path.name}: {state}")
