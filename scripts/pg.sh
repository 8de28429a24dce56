#!/usr/bin/env bash
# Private PostgreSQL + PostGIS cluster for development and tests.
#
#   scripts/pg.sh start     init (first time) + start + create role/db ioc; idempotent
#   scripts/pg.sh stop      fast shutdown
#   scripts/pg.sh status    exit 0 when running, 3 when not
#   scripts/pg.sh psql ...  psql as ioc on database ioc (via the socket)
#   scripts/pg.sh destroy   stop and delete the cluster's files (used by make clean-data)
#
# Layout: data var/pg/data, logs var/pg/log, socket var/run/.s.PGSQL.$IOC_PG_PORT,
# password of role ioc (for TCP connections) in var/secrets/db_password.
# Port: IOC_PG_PORT (default 54329); listens on 127.0.0.1 and the socket only.
#
# initdb/postgres refuse to run as root, so as root they run as the `postgres` system user.
# If that user cannot reach the project directory (e.g. a clone under /root), var/pg and
# var/run become symlinks to /var/lib/ioc-pg/<hash of the project path>/{pg,run}; clients
# still connect to <project>/var/run. As a normal user everything runs as that user, in place.
#
# With DATABASE_URL set the private cluster is not used: start/stop do nothing.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
PORT=${IOC_PG_PORT:-54329}
VAR=$ROOT/var
SECRETS=$VAR/secrets
PW_FILE=$SECRETS/db_password
RELOCATE_BASE=/var/lib/ioc-pg

say() { printf '==> %s\n' "$*"; }
die() {
  printf 'pg.sh: %s\n' "$*" >&2
  exit 1
}

if [[ $EUID -eq 0 ]]; then
  id postgres >/dev/null 2>&1 || die "system user 'postgres' missing: run scripts/bootstrap.sh"
  as_pg() { (cd / && runuser -u postgres -- "$@"); }
  own_pg() { chown -R postgres:postgres "$@"; }
else
  as_pg() { "$@"; }
  own_pg() { :; }
fi

# ---------------------------------------------------------------------------------- layout
pg_can_reach() { # can the server's user create files in this directory?
  [[ $EUID -ne 0 ]] || as_pg test -x "$1" -a -w "$1"
}

setup_layout() {
  mkdir -p "$VAR"
  if [[ ! -e $VAR/pg && ! -L $VAR/pg ]]; then
    if [[ $EUID -eq 0 ]] && ! as_pg test -x "$VAR"; then
      local base
      base=$RELOCATE_BASE/$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)
      say "postgres cannot reach $ROOT; cluster files go to $base (symlinked from var/)"
      mkdir -p "$base/pg" "$base/run"
      chmod 755 "$RELOCATE_BASE" "$base"
      printf '%s\n' "$ROOT" >"$base/project-path"
      ln -sfn "$base/pg" "$VAR/pg"
      if [[ -d $VAR/run && ! -L $VAR/run ]]; then
        rmdir "$VAR/run" || die "$VAR/run is not empty; cannot relocate it"
      fi
      ln -sfn "$base/run" "$VAR/run"
    else
      mkdir -p "$VAR/pg"
    fi
  fi
  # A symlink whose target vanished (e.g. /var/lib wiped): recreate the target.
  [[ -L $VAR/pg ]] && mkdir -p "$(readlink "$VAR/pg")"
  [[ -L $VAR/run ]] && mkdir -p "$(readlink "$VAR/run")"
  mkdir -p "$VAR/run"
  PGHOME=$(readlink -f "$VAR/pg")
  SOCKDIR=$(readlink -f "$VAR/run")
  DATA=$PGHOME/data
  LOGDIR=$PGHOME/log
  mkdir -p "$LOGDIR"
  own_pg "$PGHOME" "$SOCKDIR"
  chmod 700 "$PGHOME"
  chmod 755 "$SOCKDIR"
  pg_can_reach "$SOCKDIR" || die "the postgres user cannot write $SOCKDIR (check parent directory permissions)"
  local sock=$ROOT/var/run/.s.PGSQL.$PORT
  ((${#sock} <= 100)) || die "socket path too long for Unix sockets (${#sock} > 100 chars): $sock
  Clone the project into a shorter path."
}

# ------------------------------------------------------------------------------- binaries
find_bindir() {
  local v
  if [[ -f $DATA/PG_VERSION ]]; then
    v=$(cat "$DATA/PG_VERSION")
    [[ -x /usr/lib/postgresql/$v/bin/postgres ]] ||
      die "cluster in $DATA was created by PostgreSQL $v, which is not installed
  (install postgresql-$v postgresql-$v-postgis-3, or delete the cluster: make clean-data)"
  else
    local d
    v=
    for d in $(ls -d /usr/lib/postgresql/*/bin/postgres 2>/dev/null | sort -V -r); do
      d=${d#/usr/lib/postgresql/}
      d=${d%%/*}
      if [[ -f /usr/share/postgresql/$d/extension/postgis.control ]]; then
        v=$d
        break
      fi
    done
    [[ -n $v ]] || die "no PostgreSQL server with PostGIS installed: run scripts/bootstrap.sh"
  fi
  BIN=/usr/lib/postgresql/$v/bin
}

# --------------------------------------------------------------------------------- state
PID=
postmaster_pid() { [[ -f $DATA/postmaster.pid ]] && head -1 "$DATA/postmaster.pid"; }

is_running() { # a live postgres process that owns this data directory
  PID=$(postmaster_pid 2>/dev/null) || return 1
  [[ -n $PID && -r /proc/$PID/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$PID/cmdline" | grep -qF -- "$DATA"
}

running_port() { sed -n 4p "$DATA/postmaster.pid" 2>/dev/null; }

clear_stale() {
  if [[ -f $DATA/postmaster.pid ]]; then
    echo "pg.sh: removing stale postmaster.pid (pid $(postmaster_pid) is not this cluster)" >&2
    rm -f "$DATA/postmaster.pid"
  fi
  local lock=$SOCKDIR/.s.PGSQL.$PORT.lock
  if [[ -f $lock ]]; then
    local p
    p=$(head -1 "$lock")
    if ! [[ -r /proc/$p/cmdline ]] || ! tr '\0' ' ' <"/proc/$p/cmdline" | grep -q postgres; then
      rm -f "$lock" "$SOCKDIR/.s.PGSQL.$PORT"
    fi
  fi
}

wait_ready() {
  for _ in $(seq 1 120); do
    if "$BIN/pg_isready" -q -h "$SOCKDIR" -p "$PORT"; then
      return 0
    fi
    sleep 0.25
  done
  tail -20 "$LOGDIR"/*.log >&2 || true
  die "server did not become ready on port $PORT"
}

ensure_password() {
  mkdir -p "$SECRETS"
  chmod 700 "$SECRETS"
  if [[ ! -s $PW_FILE ]]; then
    (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$PW_FILE")
  fi
  chmod 600 "$PW_FILE"
}

# -------------------------------------------------------------------------------- actions
init_cluster() {
  say "initdb ($("$BIN/postgres" --version)) in $DATA"
  local log
  log=$(mktemp)
  if ! as_pg "$BIN/initdb" -D "$DATA" -U postgres --encoding=UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    die "initdb failed"
  fi
  rm -f "$log"
  echo "include_if_exists = 'ioc.conf'   # written by scripts/pg.sh on every start" >>"$DATA/postgresql.conf"
}

write_conf() {
  cat >"$DATA/ioc.conf" <<EOF
# Written by scripts/pg.sh on every start; edit the script, not this file.
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCKDIR'
max_connections = 200
# modest settings for a 2-core / 24 GB development box
shared_buffers = 512MB
effective_cache_size = 4GB
work_mem = 32MB
maintenance_work_mem = 256MB
max_worker_processes = 4
max_parallel_workers_per_gather = 1
random_page_cost = 1.1
fsync = on
logging_collector = on
log_directory = '$LOGDIR'
log_filename = 'postgresql-%a.log'
log_truncate_on_rotation = on
log_rotation_age = 1d
log_rotation_size = 0
log_min_duration_statement = 2000
log_line_prefix = '%m [%p] %q%u@%d '
timezone = 'UTC'
EOF
  own_pg "$DATA/ioc.conf"
}

provision() {
  ensure_password
  local pw
  pw=$(cat "$PW_FILE")
  [[ $pw =~ ^[A-Za-z0-9._-]+$ ]] || die "$PW_FILE must contain only [A-Za-z0-9._-]"
  local psql=("$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCKDIR" -p "$PORT" -U postgres)
  "${psql[@]}" -d postgres <<SQL
SET client_min_messages = warning;
SELECT 'CREATE ROLE ioc' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ioc') \gexec
-- SUPERUSER only in this private dev cluster: tests create test databases with postgis.
ALTER ROLE ioc WITH LOGIN SUPERUSER PASSWORD '$pw';
SELECT 'CREATE DATABASE ioc OWNER ioc' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'ioc') \gexec
SQL
  "${psql[@]}" -d ioc -c 'SET client_min_messages = warning' \
    -c 'CREATE EXTENSION IF NOT EXISTS postgis'
}

cmd_start() {
  setup_layout
  find_bindir
  if is_running; then
    local p
    p=$(running_port)
    if [[ $p != "$PORT" ]]; then
      die "cluster already running on port $p, not IOC_PG_PORT=$PORT (scripts/pg.sh stop first)"
    fi
    wait_ready
    echo "postgres already running (pid $PID, port $PORT)"
    return
  fi
  [[ -f $DATA/PG_VERSION ]] || init_cluster
  clear_stale
  write_conf
  say "starting postgres on 127.0.0.1:$PORT and $ROOT/var/run"
  if ! as_pg "$BIN/pg_ctl" -D "$DATA" -l "$LOGDIR/startup.log" -w -t 60 -s start; then
    tail -20 "$LOGDIR/startup.log" >&2 || true
    tail -20 "$(ls -t "$LOGDIR"/postgresql-*.log 2>/dev/null | head -1)" >&2 2>/dev/null || true
    die "postgres failed to start (port $PORT busy? see $LOGDIR)"
  fi
  wait_ready
  provision
  echo "postgres ready: host=$ROOT/var/run port=$PORT dbname=ioc user=ioc"
}

cmd_stop() {
  setup_layout
  find_bindir
  if ! is_running; then
    echo "postgres not running"
    return
  fi
  as_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 -s stop
  echo "postgres stopped"
}

cmd_status() {
  setup_layout
  find_bindir
  if is_running && "$BIN/pg_isready" -q -h "$SOCKDIR" -p "$(running_port)"; then
    echo "postgres running: pid $PID, port $(running_port), socket dir $ROOT/var/run, data $DATA"
  else
    echo "postgres not running (data $DATA)"
    exit 3
  fi
}

cmd_psql() {
  if [[ -n ${DATABASE_URL:-} ]]; then
    exec psql "${DATABASE_URL/#postgis:/postgresql:}" "$@"
  fi
  setup_layout
  find_bindir
  exec "$BIN/psql" -h "$ROOT/var/run" -p "$PORT" -U ioc -d ioc "$@"
}

cmd_destroy() {
  cmd_stop
  local target=
  [[ -L $VAR/pg ]] && target=$(dirname "$(readlink -f "$VAR/pg")")
  rm -rf "$VAR/pg" "$VAR/run"
  if [[ -n $target && $target == "$RELOCATE_BASE"/* ]]; then
    rm -rf "$target"
  fi
  echo "cluster files deleted"
}

cmd=${1:-}
shift || true
if [[ -n ${DATABASE_URL:-} && $cmd != psql ]]; then
  echo "using external database (DATABASE_URL is set); private cluster not touched"
  exit 0
fi
case $cmd in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
psql) cmd_psql "$@" ;;
destroy) cmd_destroy ;;
*)
  echo "usage: $0 start|stop|status|psql [args]|destroy" >&2
  exit 2
  ;;
esac
