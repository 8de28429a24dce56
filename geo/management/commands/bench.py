"""``python manage.py bench``: run every subsystem's benchmark and write docs/benchmarks.md.

Each app may have a ``bench`` module with ``run(options) -> str`` returning a Markdown
section (tables of ratios against the peer named in its issue, measured in the same run).
Running one subsystem (``--only tiles``) replaces only its section in the file.
"""

from __future__ import annotations

import importlib
import platform
import re
import time
from datetime import UTC, datetime
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

HEADER = """# Benchmarks

Written by `make bench` (`python manage.py bench`). Every figure is measured side by side with
its peer in one run on the same machine; goals are ratios, never timed assertions in tests.
Each section says when and where it was measured.
"""


def bench_modules() -> dict[str, object]:
    found = {}
    for config in apps.get_app_configs():
        if config.name not in settings.PROJECT_APPS:
            continue
        try:
            found[config.label] = importlib.import_module(f"{config.name}.bench")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.bench":
                raise
    return found


def replace_section(text: str, label: str, body: str) -> str:
    start, end = f"<!-- bench:{label} -->", f"<!-- /bench:{label} -->"
    block = f"{start}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    if pattern.search(text):
        return pattern.sub(lambda _m: block, text)
    return f"{text.rstrip()}\n\n{block}\n"


class Command(BaseCommand):
    help = "Chạy benchmark và ghi docs/benchmarks.md / Run the benchmarks, write docs/benchmarks.md"

    def add_arguments(self, parser) -> None:
        parser.add_argument("--only", nargs="*", help="app labels (default: all)")
        parser.add_argument("--quick", action="store_true", help="smaller data, for a smoke run")
        parser.add_argument(
            "--output", default=str(Path(settings.BASE_DIR) / "docs" / "benchmarks.md")
        )

    def handle(self, only, quick, output, **options) -> None:
        modules = bench_modules()
        chosen = only or list(modules)
        unknown = sorted(set(chosen) - set(modules))
        if unknown:
            raise CommandError(f"No benchmark for {unknown}; available: {sorted(modules)}")
        path = Path(output)
        text = path.read_text() if path.exists() else HEADER
        for label in chosen:
            self.stdout.write(f"==> benchmark {label}")
            started = time.monotonic()
            body = modules[label].run({"quick": quick, "stdout": self.stdout})
            stamp = (
                f"\n\n_Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
                f"({platform.machine()}, Python {platform.python_version()}), "
                f"{time.monotonic() - started:.0f} s._"
            )
            text = replace_section(text, label, body + stamp)
            path.write_text(text)
            self.stdout.write(self.style.SUCCESS(f"    {label}: written to {path}"))
