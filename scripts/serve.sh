#!/usr/bin/env bash
# Start the background processes listed in ./Procfile, print the URLs, then exec granian (WSGI).
# Ctrl-C (or any exit of granian) also stops the background processes: each one runs under
# a small watchdog that polls this script's PID, which granian's main process keeps after `exec`.
#
#   IOC_HOST (127.0.0.1)  IOC_PORT (8000)  IOC_WORKERS (2*cores+1, at most 8)  IOC_THREADS (4)
#   IOC_DEMO=1            also print the demo admin credentials
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"
HOST=${IOC_HOST:-127.0.0.1}
PORT=${IOC_PORT:-8000}
cores=$(nproc 2>/dev/null || echo 1)
# granian runs the app on IOC_THREADS blocking threads in each worker process. Every open map
# holds one thread for its live-update stream (/api/events), so keep more workers than cores.
WORKERS=${IOC_WORKERS:-$((2 * cores + 1 > 8 ? 8 : 2 * cores + 1))}
THREADS=${IOC_THREADS:-4}
SERVER_PID=$$

# start_background NAME COMMAND: run COMMAND until the server goes away, restarting it if it
# exits. Non-interactive bash starts background jobs with SIGINT ignored, so Ctrl-C reaches
# only granian; the watchdog then sends SIGTERM to the command within a second.
start_background() {
  local name=$1 cmd=$2
  (
    child=
    trap 'if [[ -n $child ]]; then kill -TERM "$child" 2>/dev/null; wait "$child"; fi; exit 0' TERM
    while kill -0 "$SERVER_PID" 2>/dev/null; do
      bash -c "exec $cmd" > >(sed -u "s/^/[$name] /") 2>&1 &
      child=$!
      while kill -0 "$child" 2>/dev/null; do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
          kill -TERM "$child" 2>/dev/null
          wait "$child" 2>/dev/null || true
          exit 0
        fi
        sleep 1
      done
      rc=0
      wait "$child" || rc=$?
      child=
      kill -0 "$SERVER_PID" 2>/dev/null || exit 0
      echo "[$name] exited with status $rc; restarting in 2 s" >&2
      sleep 2
    done
  ) &
  echo "==> started $name: $cmd"
}

if [[ -f Procfile ]]; then
  while IFS= read -r line || [[ -n $line ]]; do
    line=${line%%#*}
    [[ $line =~ ^[[:space:]]*([A-Za-z0-9_-]+):[[:space:]]*(.*[^[:space:]])[[:space:]]*$ ]] || continue
    start_background "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
  done <Procfile
fi

base="http://$HOST:$PORT"
echo
echo "  IOC spatial platform"
echo "    site     $base/"
echo "    admin    $base/admin/"
echo "    health   $base/healthz"
echo "    layers   $base/api/layers"
echo "    OGC API  $base/ogc"
if [[ ${IOC_DEMO:-0} == 1 ]]; then
  pw_file=var/secrets/demo_admin_password
  if [[ -r $pw_file ]]; then
    echo "    demo login: admin / $(cat "$pw_file")"
  else
    echo "    demo login: admin / (no $pw_file yet: run .venv/bin/python manage.py load_demo)"
  fi
fi
echo "  granian: $WORKERS workers x $THREADS threads; Ctrl-C stops the server and background processes"
echo

# No --backpressure: with it equal to the threads, a request that found its worker's permits
# taken (e.g. by live-update streams) waited ~30 s after one was freed (docs/decisions.md).
# granian has no per-request timeout (unlike gunicorn's --timeout); --workers-kill-timeout
# bounds a graceful stop (Ctrl-C, SIGTERM).
# Idle threads live 600 s (granian's longest; default 30 s): a thread granian starts again
# opens a new database connection and stalled requests for up to 0.8 s in a burst.
# The access log goes to stdout.
exec .venv/bin/granian --interface wsgi \
  --host "$HOST" \
  --port "$PORT" \
  --workers "$WORKERS" \
  --blocking-threads "$THREADS" \
  --blocking-threads-idle-timeout 600 \
  --no-ws \
  --respawn-failed-workers \
  --workers-kill-timeout 10 \
  --access-log \
  geo.wsgi:application
