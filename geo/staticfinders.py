"""Serve a declared handful of files from node_modules as static files (no CDN, no copies).

``settings.NPM_STATIC_FILES`` maps a static path to a file under node_modules; only those
files are exposed, so collectstatic does not walk whole packages.
"""

from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles.finders import BaseFinder
from django.core.checks import Error
from django.core.files.storage import FileSystemStorage


class NpmFinder(BaseFinder):
    def __init__(self, *args, **kwargs) -> None:
        self.root = Path(settings.BASE_DIR) / "node_modules"
        self.files: dict[str, Path] = {
            static_path: self.root / source
            for static_path, source in settings.NPM_STATIC_FILES.items()
        }

    def check(self, **kwargs):
        return [
            Error(
                f"{path} is missing (needed as static file {name}).",
                hint="Run 'make run' or 'npm ci' to install the front-end packages.",
                id="geo.E010",
            )
            for name, path in self.files.items()
            if not path.is_file()
        ]

    def find(self, path: str, find_all: bool = False, **kwargs):
        source = self.files.get(path)
        if source is None or not source.is_file():
            return [] if find_all else None
        return [str(source)] if find_all else str(source)

    def list(self, ignore_patterns):
        for static_path, source in self.files.items():
            if source.is_file():
                storage = FileSystemStorage(location=str(source.parent))
                storage.prefix = str(Path(static_path).parent)
                yield source.name, storage
