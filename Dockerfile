# Production image: granian (WSGI) serving geo.wsgi, static files collected at build time.
# Front-end packages (node_modules) are installed in a separate stage; no Node in the image.
# Workers and threads: granian's own variables GRANIAN_WORKERS and GRANIAN_BLOCKING_THREADS
# (no GRANIAN_BACKPRESSURE: see scripts/serve.sh).

FROM node:20-bookworm-slim AS npm
WORKDIR /app
COPY package.json package-lock.json ./
ENV PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 PUPPETEER_SKIP_DOWNLOAD=1
RUN npm ci --omit=dev --no-audit --no-fund

FROM python:3.12-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    IOC_VAR_DIR=/var/lib/ioc \
    IOC_TILE_CACHE_DIR=/var/cache/ioc/tiles \
    IOC_MEDIA_ROOT=/var/lib/ioc/media \
    IOC_STATIC_ROOT=/app/staticfiles \
    GRANIAN_WORKERS=5 \
    GRANIAN_BLOCKING_THREADS=4 \
    GRANIAN_BLOCKING_THREADS_IDLE_TIMEOUT=600 \
    IOC_TRUST_PROXY_HEADERS=1
# GeoDjango loads GDAL/GEOS/PROJ from the system (ctypes); binutils lets it find them.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgdal32 libgeos-c1v5 libproj25 binutils \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --home-dir /var/lib/ioc --create-home --shell /usr/sbin/nologin ioc
WORKDIR /app
COPY requirements.lock ./
RUN pip install -r requirements.lock
COPY . .
COPY --from=npm /app/node_modules ./node_modules
# collectstatic needs settings but no database; the key below exists only during this step.
RUN IOC_SECRET_KEY=collectstatic-build-only python manage.py collectstatic --noinput -v 0 \
    && mkdir -p /var/cache/ioc/tiles /var/cache/ioc/mapproxy /var/lib/ioc/media /srv/static \
    && chown -R ioc:ioc /var/cache/ioc /var/lib/ioc /srv/static
USER ioc
EXPOSE 8000
ENTRYPOINT ["/app/deploy/docker-entrypoint.sh"]
# Behind nginx (docker-compose.yml): IOC_TRUST_PROXY_HEADERS=1 takes X-Forwarded-Proto as the
# scheme (what gunicorn's --forwarded-allow-ips did before).
CMD ["granian", "--interface", "wsgi", "--host", "0.0.0.0", "--port", "8000", \
     "--no-ws", "--respawn-failed-workers", "--workers-kill-timeout", "10", \
     "--access-log", "geo.wsgi:application"]
