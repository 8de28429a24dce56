"""The one settings module: it alone reads the environment.

Every other module reads ``django.conf.settings``. Values are validated at start-up by the
system checks in ``geo/checks.py`` (run by ``manage.py check``, ``migrate`` and the server).
The table of variables lives in README.md ("Configuration"); keep the two in sync.
"""

import os
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("IOC_VAR_DIR", BASE_DIR / "var"))


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _secret_key() -> str:
    """IOC_SECRET_KEY, else a key generated once into var/secrets (private installs)."""
    if key := os.environ.get("IOC_SECRET_KEY"):
        return key
    path = VAR_DIR / "secrets" / "secret_key"
    if path.exists():
        return path.read_text().strip()
    import secrets

    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    path.write_text(key)
    path.chmod(0o600)
    return key


# --- Core -------------------------------------------------------------------------------------
DEBUG = _env_bool("IOC_DEBUG", False)
DEMO_MODE = _env_bool("IOC_DEMO", False)
SECRET_KEY = _secret_key()
SECRET_KEY_FROM_ENV = bool(os.environ.get("IOC_SECRET_KEY"))
ALLOWED_HOSTS = _env_list("IOC_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver,[::1]")
CSRF_TRUSTED_ORIGINS = _env_list("IOC_CSRF_TRUSTED_ORIGINS", "")
# Public base URL used in OGC links, TileJSON and styles (no trailing slash); empty means
# "derive from the request".
PUBLIC_URL = os.environ.get("IOC_PUBLIC_URL", "").rstrip("/")

# Our own apps, one per subsystem (see docs/architecture.md).
PROJECT_APPS = ["geo", "layers", "ogc_services", "tiles", "importers", "viewer"]
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    *PROJECT_APPS,
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "geo.urls"
WSGI_APPLICATION = "geo.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "geo" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
# DATABASE_URL selects an external PostGIS; without it we use the private cluster that
# scripts/pg.sh runs under var/ (Unix socket, trust auth, see docs/decisions.md).
PG_PORT = int(os.environ.get("IOC_PG_PORT", "54329"))
PG_SOCKET_DIR = Path(os.environ.get("IOC_PG_SOCKET_DIR", VAR_DIR / "run"))
# Persistent connections: a new connection per request costs ~6× throughput, and a renewed one
# pays PostGIS/PROJ's first use again (20–200 ms, seen as p99 spikes when it was 60 s). Health
# checks (optimistic on the hot reads, geo.db.read_optimistically) catch dropped connections.
CONN_MAX_AGE = int(os.environ.get("IOC_DB_CONN_MAX_AGE", "600"))
if os.environ.get("DATABASE_URL"):
    DATABASES = {
        "default": dj_database_url.parse(
            os.environ["DATABASE_URL"],
            engine="django.contrib.gis.db.backends.postgis",
            conn_max_age=CONN_MAX_AGE,
            conn_health_checks=True,
        )
    }
    USING_PRIVATE_CLUSTER = False
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.contrib.gis.db.backends.postgis",
            "NAME": os.environ.get("IOC_PG_DB", "ioc"),
            "USER": "ioc",
            "HOST": str(PG_SOCKET_DIR),
            "PORT": str(PG_PORT),
        }
    }
    USING_PRIVATE_CLUSTER = True
DATABASES["default"].setdefault("CONN_MAX_AGE", CONN_MAX_AGE)
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DATABASES["default"].setdefault("OPTIONS", {})
DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", 5)
# The app's queries are small pages and tiles: parallel plans (Gather Merge) only add start-up
# cost to them — a bbox page of 1M points went from ~20 ms to ~7 ms without (docs/decisions.md).
_options = DATABASES["default"]["OPTIONS"]
_options["options"] = f"{_options.get('options', '')} -c max_parallel_workers_per_gather=0".strip()
# Django binds values client-side (nothing is prepared); geo.db.fetchone_prepared() asks for
# server-side prepared statements on hot reads, which psycopg allows only with a threshold.
# It is set beyond reach so that nothing else is ever prepared automatically.
_options.setdefault("prepare_threshold", 2**31 - 1)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/admin/login/"

# --- Internationalisation: Vietnamese first ---------------------------------------------------
LANGUAGE_CODE = os.environ.get("IOC_LANGUAGE_CODE", "vi")
LANGUAGES = [("vi", _("Tiếng Việt")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Ho_Chi_Minh"
USE_I18N = True
USE_TZ = True

# --- Static files -----------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("IOC_STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "geo" / "static"]
# collectstatic writes gzip siblings that whitenoise serves (maplibre-gl.js: 1 MB → ~0.25 MB).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "geo.staticfinders.NpmFinder",
]
# Static path → file under node_modules (installed by the set-up from package-lock.json).
NPM_STATIC_FILES = {
    "vendor/ol/ol.js": "ol/dist/ol.js",
    "vendor/ol/ol.css": "ol/ol.css",
    "vendor/maplibre-gl/maplibre-gl.js": "maplibre-gl/dist/maplibre-gl.js",
    "vendor/maplibre-gl/maplibre-gl.css": "maplibre-gl/dist/maplibre-gl.css",
}
MEDIA_ROOT = Path(os.environ.get("IOC_MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "/media/"

# --- Platform ---------------------------------------------------------------------------------
# Where the map's view starts and what "inside the province" means for validation.
IOC_PROVINCE_CODE = "19"
IOC_PROVINCE_BBOX = (105.2, 21.3, 106.3, 22.75)  # lon/lat, Thái Nguyên after 1 July 2025
IOC_VIETNAM_BBOX = (102.1, 8.1, 109.5, 23.4)  # lon/lat, mainland Vietnam
IOC_DEMO_DATA_DIR = BASE_DIR / "layers" / "demo" / "data"
# Database channel that the change-capture triggers NOTIFY on (see layers/sql/).
IOC_CHANGE_CHANNEL = "ioc_changes"
TILE_CACHE_DIR = Path(os.environ.get("IOC_TILE_CACHE_DIR", VAR_DIR / "cache" / "tiles"))
BASEMAP_URL = os.environ.get("IOC_BASEMAP_URL", "")

# --- tiles ---
# Vector-tile cache backend (a key of tiles.cache.BACKENDS: "file", "memory").
TILE_CACHE_BACKEND = os.environ.get("IOC_TILE_CACHE_BACKEND", "file")
# Only in the server that `manage.py bench --only tiles` starts: also serve its bench tables
# (schema "bench") as layers bench_points/bench_polygons (tiles/benchlayers.py).
TILES_BENCH_LAYERS = os.environ.get("IOC_TILES_BENCH_LAYERS", "") == "1"
# MapProxy: generated configuration, raster caches (COGs) and its tile cache live here.
MAPPROXY_DIR = Path(os.environ.get("IOC_MAPPROXY_DIR", VAR_DIR / "mapproxy"))
MAPPROXY_CACHE_DIR = Path(
    os.environ.get("IOC_MAPPROXY_CACHE_DIR", TILE_CACHE_DIR.parent / "mapproxy")
)
# An external basemap for MapProxy: a tile URL template with {z}/{x}/{y} (XYZ); empty: none.
BASEMAP_ATTRIBUTION = os.environ.get("IOC_BASEMAP_ATTRIBUTION", "")

# --- viewer ---------------------------------------------------------------------------------
# Map labels: SDF glyph ranges rendered at set-up (manage.py viewer_glyphs) from the first font
# found here that covers Vietnamese; served as static files under viewer/glyphs/.
VIEWER_GLYPH_DIR = VAR_DIR / "glyphs"
VIEWER_FONTS = {
    "IOC Sans Regular": [
        os.environ.get("IOC_FONT_REGULAR", ""),
        "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    ],
    "IOC Sans Bold": [
        os.environ.get("IOC_FONT_BOLD", ""),
        "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf",
        "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    ],
}
if VIEWER_GLYPH_DIR.is_dir():  # else viewer/views.py renders ranges on first request
    STATICFILES_DIRS.append(("viewer/glyphs", VIEWER_GLYPH_DIR))
# Server-sent events (/api/events): each open stream holds one of a worker's blocking threads,
# so a stream is bounded: a comment line every HEARTBEAT seconds (which is also when a closed
# browser is noticed and its thread freed), closed after LIFETIME (the browser reconnects and
# catches up from Last-Event-ID). At most STREAMS streams per worker process stay open (default:
# the worker's threads − 1, so one always serves tiles and pages); beyond that a stream sends
# what is new and closes, and the browser comes back after OVERFLOW_RETRY ms (polling).
VIEWER_SSE_HEARTBEAT = float(os.environ.get("IOC_SSE_HEARTBEAT", "5"))
VIEWER_SSE_LIFETIME = float(os.environ.get("IOC_SSE_LIFETIME", "300"))
_worker_threads = int(
    os.environ.get("IOC_THREADS", os.environ.get("GRANIAN_BLOCKING_THREADS", "4"))
)
VIEWER_SSE_STREAMS = int(os.environ.get("IOC_SSE_STREAMS", str(max(1, _worker_threads - 1))))
VIEWER_SSE_OVERFLOW_RETRY = int(os.environ.get("IOC_SSE_OVERFLOW_RETRY_MS", "5000"))
# Without collectstatic's output (tests, development) serve static files straight from the
# finders (node_modules, generated glyphs); with it, serve its compressed files, which the finders
# would otherwise shadow with uncompressed ones.
WHITENOISE_USE_FINDERS = _env_bool("IOC_STATIC_FROM_FINDERS", not STATIC_ROOT.is_dir())

# Debian 12 ships GDAL 3.6, which cannot block file/network access from spatial references;
# user files reach GDAL only through the importers, which validate CRSs through pyproj first.
SILENCED_SYSTEM_CHECKS = ["gis.W001"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("IOC_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

if not DEBUG:
    SESSION_COOKIE_HTTPONLY = True
    X_FRAME_OPTIONS = "SAMEORIGIN"  # the admin map widget frames nothing, but keep it tight

# --- ogc_services ---------------------------------------------------------------------------
# Largest page of /items; transaction bodies over OGC_MAX_BODY_BYTES get 413 (keep it under
# Django's DATA_UPLOAD_MAX_MEMORY_SIZE, 2.5 MB).
OGC_MAX_LIMIT = int(os.environ.get("IOC_OGC_MAX_LIMIT", "10000"))
OGC_DEFAULT_LIMIT = int(os.environ.get("IOC_OGC_DEFAULT_LIMIT", "10"))
OGC_MAX_BODY_BYTES = int(os.environ.get("IOC_OGC_MAX_BODY_BYTES", str(2 * 1024 * 1024)))
# numberMatched is counted when the estimated rows to visit stay within this and the count
# stops here; omitted otherwise (docs/decisions.md).
OGC_COUNT_LIMIT = int(os.environ.get("IOC_OGC_COUNT_LIMIT", "10000"))
OGC_BASIC_AUTH_CACHE_SECONDS = 60

# --- importers ---
# Largest total a zip (or KMZ/XLSX) may expand to before it is refused as a zip bomb.
IMPORTERS_MAX_EXPANDED_BYTES = int(os.environ.get("IOC_IMPORT_MAX_EXPANDED_BYTES", 2 * 1024**3))
# Largest file the admin's upload page accepts (bigger ones: `manage.py import_vector` on the
# server, which streams from disk).
IMPORTERS_MAX_UPLOAD_BYTES = int(os.environ.get("IOC_IMPORT_MAX_UPLOAD_BYTES", 1024**3))
IMPORTERS_BATCH_SIZE = int(os.environ.get("IOC_IMPORT_BATCH_SIZE", "20000"))
# Uploaded files and reports of the admin's import jobs.
IMPORTERS_UPLOAD_DIR = Path(os.environ.get("IOC_IMPORT_UPLOAD_DIR", VAR_DIR / "imports"))
# Cloud-optimised GeoTIFFs written by import_raster (served by the tiles side).
IMPORTERS_RASTER_DIR = Path(os.environ.get("IOC_RASTER_DIR", VAR_DIR / "rasters"))

# --- serving (granian, tiles/fastpath.py) ---
# Behind a reverse proxy that sets X-Forwarded-Proto (nginx in docker-compose.yml; the Docker
# image sets this), take the request's scheme from it, as gunicorn's --forwarded-allow-ips did.
# Leave it off when clients reach the app directly: they could claim https.
if _env_bool("IOC_TRUST_PROXY_HEADERS", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
