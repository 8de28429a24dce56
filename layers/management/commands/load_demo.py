"""``python manage.py load_demo``: the Thái Nguyên demo data (idempotent; see layers/demo)."""

from django.core.management.base import BaseCommand, CommandError

from layers.demo.db import HalfLoaded
from layers.demo.loader import load_demo
from layers.demo.sources import DemoDataError


class Command(BaseCommand):
    help = (
        "Load the Thái Nguyên demo data: real 2025/2024/2009 administrative units and the "
        "commune crosswalk, OSM schools and hospitals, national roads, and seeded synthetic "
        "cameras, traffic nodes, schools, health facilities, field reports and demo accounts. "
        "Sections already loaded are skipped."
    )

    def handle(self, *args, **options):
        verbosity = options["verbosity"]
        if verbosity > 0:
            self.stdout.write("Loading the Thái Nguyên demo data…")
        try:
            load_demo(stdout=self.stdout, verbosity=verbosity)
        except (HalfLoaded, DemoDataError) as exc:
            raise CommandError(str(exc)) from exc
