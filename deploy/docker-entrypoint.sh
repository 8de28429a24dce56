#!/bin/sh
# Container entry point: publish the image's static files to the volume nginx serves
# (IOC_STATIC_VOLUME), then run the command (granian, manage.py ...).
set -eu
if [ -n "${IOC_STATIC_VOLUME:-}" ] && [ -w "$IOC_STATIC_VOLUME" ]; then
    cp -a /app/staticfiles/. "$IOC_STATIC_VOLUME/"
fi
exec "$@"
