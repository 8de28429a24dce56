"""Start-up validation of the configuration, with messages that say what to do."""

from urllib.parse import urlparse

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.compatibility, deploy=False)
def check_settings(app_configs, **kwargs):
    problems = []
    engine = settings.DATABASES["default"]["ENGINE"]
    if engine != "django.contrib.gis.db.backends.postgis":
        problems.append(
            Error(
                f"The database engine is {engine!r}; the platform needs PostGIS.",
                hint="Set DATABASE_URL to a postgis:// or postgres:// URL of a PostGIS database.",
                id="geo.E001",
            )
        )
    if settings.PUBLIC_URL:
        parsed = urlparse(settings.PUBLIC_URL)
        if parsed.scheme not in {"http", "https"} or not parsed.netloc:
            problems.append(
                Error(
                    f"IOC_PUBLIC_URL {settings.PUBLIC_URL!r} is not an http(s) URL.",
                    hint="Use e.g. https://ioc.thainguyen.gov.vn (no trailing path).",
                    id="geo.E002",
                )
            )
    if settings.BASEMAP_URL:
        parsed = urlparse(settings.BASEMAP_URL)
        if parsed.scheme not in {"http", "https"} or not parsed.netloc:
            problems.append(
                Error(
                    f"IOC_BASEMAP_URL {settings.BASEMAP_URL!r} is not an http(s) URL.",
                    hint="Give an XYZ template with {z}/{x}/{y} or a WMTS capabilities URL, "
                    "or leave it empty (no external basemap).",
                    id="geo.E003",
                )
            )
    for name in ("TILE_CACHE_DIR", "MEDIA_ROOT"):
        path = getattr(settings, name)
        if path.exists() and not path.is_dir():
            problems.append(Error(f"{name} {path} exists and is not a directory.", id="geo.E004"))
    if not (settings.DEBUG or settings.USING_PRIVATE_CLUSTER or settings.SECRET_KEY_FROM_ENV):
        problems.append(
            Warning(
                "No IOC_SECRET_KEY in the environment: a key was generated under var/secrets.",
                hint="Set IOC_SECRET_KEY for production so every instance shares one key.",
                id="geo.W001",
            )
        )
    return problems
