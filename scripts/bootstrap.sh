#!/usr/bin/env bash
# Install everything the project needs on a Debian/Ubuntu machine, idempotently.
#
#   scripts/bootstrap.sh run    Debian packages for the server, .venv with requirements.lock,
#                               node_modules (npm ci) when package.json exists
#   scripts/bootstrap.sh test   + test tools (docker-compose, QGIS, Chromium, wrk) and
#                               requirements-test.lock
#
# Fast path (everything already there) takes well under a second: apt is skipped when dpkg
# reports every package installed, pip when .venv/.stamp-<mode>-<sha256 of the lock files>
# exists, npm when node_modules/.stamp-<sha256 of package-lock.json> exists.
set -euo pipefail

MODE=${1:-run}
case $MODE in run | test) ;; *)
  echo "usage: $0 [run|test]" >&2
  exit 2
  ;;
esac

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"
VENV=$ROOT/.venv

say() { printf '==> %s\n' "$*"; }
die() {
  printf 'bootstrap: %s\n' "$*" >&2
  exit 1
}

# Run a command quietly; on failure show the tail of its output.
quiet() {
  local log
  log=$(mktemp)
  if ! "$@" >"$log" 2>&1; then
    grep -v '^WARNING: Location .* is ignored' "$log" | tail -40 >&2
    rm -f "$log"
    die "failed: $*"
  fi
  rm -f "$log"
}

SUDO=()
if [[ $EUID -ne 0 ]]; then
  SUDO=(sudo)
fi
as_root() {
  if [[ $EUID -ne 0 ]] && ! command -v sudo >/dev/null; then
    die "need root for: $* (run as root or install sudo)"
  fi
  "${SUDO[@]}" "$@"
}

# --------------------------------------------------------------------------- Debian packages
APT_UPDATED=0
apt_update() {
  if [[ $APT_UPDATED -eq 0 ]]; then
    say "apt-get update"
    quiet as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -q
    APT_UPDATED=1
  fi
}

apt_install() {
  say "installing Debian packages: $*"
  quiet as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
    install -y -q --no-install-recommends "$@"
}

# Packages (from the list given) that dpkg does not report as installed.
missing_pkgs() {
  local installed
  # dpkg-query exits non-zero when it has never heard of a package: not an error here.
  installed=$({ dpkg-query -W -f='${Package} ${db:Status-Status}\n' "$@" 2>/dev/null || true; } |
    awk '$2 == "installed" {print $1}')
  local p
  for p in "$@"; do
    grep -qxF -- "$p" <<<"$installed" || echo "$p"
  done
}

has_candidate() { apt-cache show -- "$1" >/dev/null 2>&1; }

# PostgreSQL major version: an existing private cluster's version, else the newest installed
# server, else the newest postgresql-N-postgis-3 that apt offers.
pg_version() {
  local v d
  if [[ -f $ROOT/var/pg/data/PG_VERSION ]]; then
    cat "$ROOT/var/pg/data/PG_VERSION"
    return
  fi
  for d in $(ls -d /usr/lib/postgresql/*/bin/postgres 2>/dev/null | sort -V -r); do
    v=${d#/usr/lib/postgresql/}
    echo "${v%%/*}"
    return
  done
  apt_update
  apt-cache search --names-only '^postgresql-[0-9]+-postgis-3$' 2>/dev/null |
    sed -nE 's/^postgresql-([0-9]+)-postgis-3 .*/\1/p' | sort -n | tail -1
}

ensure_debian_packages() {
  command -v dpkg-query >/dev/null || die "not a Debian/Ubuntu system (no dpkg-query)"
  local v
  v=$(pg_version)
  [[ -n $v ]] || die "no PostgreSQL with PostGIS 3 found in apt (postgresql-N-postgis-3)"
  local required=("postgresql-$v" "postgresql-$v-postgis-3" postgresql-contrib
    gdal-bin libgdal-dev libgeos-dev libproj-dev proj-bin binutils
    fonts-dejavu-core) # the map's Vietnamese label glyphs are rendered from DejaVu Sans
  local optional=()
  if [[ $MODE == test ]]; then
    optional+=(docker-compose python3-qgis qgis-providers wrk nginx) # nginx: tiles bench (cache hits)
    # Chromium: Debian names it chromium; accept any installed Chromium/Chrome binary.
    if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null &&
      ! command -v google-chrome >/dev/null; then
      optional+=(chromium)
    fi
  fi
  # Front-end packages (served as static files) come from npm: needed by run and test.
  if [[ -f $ROOT/package.json ]] && ! command -v npm >/dev/null; then
    required+=(nodejs npm)
  fi
  local miss_req=() miss_opt=() p
  mapfile -t miss_req < <(missing_pkgs "${required[@]}")
  if ((${#optional[@]})); then
    for p in $(missing_pkgs "${optional[@]}"); do
      # docker-compose: a binary from elsewhere (e.g. Docker's own packages) is fine too.
      [[ $p == docker-compose ]] && command -v docker-compose >/dev/null && continue
      miss_opt+=("$p")
    done
  fi
  if ((${#miss_req[@]} + ${#miss_opt[@]} == 0)); then
    return
  fi
  apt_update
  local install=()
  for p in "${miss_req[@]}"; do
    has_candidate "$p" || die "apt has no package '$p'"
    install+=("$p")
  done
  for p in "${miss_opt[@]}"; do
    if has_candidate "$p"; then
      install+=("$p")
    else
      echo "bootstrap: warning: apt has no package '$p'; tests that need it will skip or fail" >&2
    fi
  done
  if ((${#install[@]})); then
    apt_install "${install[@]}"
  fi
}

# --------------------------------------------------------------------------- Python
py_ok() { # usable interpreter >= 3.12 (pyenv shims of inactive versions fail this)
  "$1" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1
}

find_python() {
  local c
  for c in python3.13 python3.12; do
    if command -v "$c" >/dev/null && py_ok "$c"; then
      command -v "$c"
      return
    fi
  done
  for c in /usr/bin/python3.1[3-9]; do
    if [[ -x $c ]] && py_ok "$c"; then
      echo "$c"
      return
    fi
  done
  for c in $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]* 2>/dev/null | sort -V); do
    c=$(ls "$c"/bin/python3.1[2-9] 2>/dev/null | head -1)
    if [[ -n $c ]] && py_ok "$c"; then
      echo "$c"
      return
    fi
  done
  return 1
}

ensure_venv() {
  if [[ -x $VENV/bin/python ]] && py_ok "$VENV/bin/python"; then
    return
  fi
  local py
  py=$(find_python) || die "Python >= 3.12 not found. Tried python3.13/python3.12 on PATH,
  /usr/bin/python3.1[3-9] and ${PYENV_ROOT:-$HOME/.pyenv}/versions/3.1[2-9]*.
  Install one (Debian 13: apt-get install python3 python3-venv; Ubuntu 24.04: python3.12-venv;
  Debian 12: pyenv install 3.12) and re-run."
  if ! "$py" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    # Debian splits venv/ensurepip out of the interpreter package.
    local ver
    ver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    apt_update
    apt_install "python$ver-venv"
  fi
  say "creating .venv with $("$py" -V 2>&1) ($py)"
  rm -rf "$VENV"
  quiet "$py" -m venv "$VENV"
}

ensure_python_deps() {
  local locks=(requirements.lock)
  [[ $MODE == test ]] && locks+=(requirements-test.lock)
  local f
  for f in "${locks[@]}"; do
    [[ -f $f ]] || die "missing $f"
  done
  local sha stamp
  sha=$(cat "${locks[@]}" | sha256sum | cut -c1-16)
  stamp=$VENV/.stamp-$MODE-$sha
  [[ -f $stamp ]] && return
  say "installing Python dependencies (${locks[*]})"
  local args=()
  for f in "${locks[@]}"; do args+=(-r "$f"); done
  quiet "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q "${args[@]}"
  rm -f "$VENV"/.stamp-"$MODE"-*
  touch "$stamp"
  if [[ $MODE == test ]]; then # the runtime lock is a subset of what was just installed
    rm -f "$VENV"/.stamp-run-*
    touch "$VENV/.stamp-run-$(sha256sum <requirements.lock | cut -c1-16)"
  fi
}

# --------------------------------------------------------------------------- Node
ensure_node_deps() {
  [[ -f package.json ]] || return 0
  command -v npm >/dev/null || die "package.json present but npm is missing"
  export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 PUPPETEER_SKIP_DOWNLOAD=1
  local src=package-lock.json
  [[ -f $src ]] || src=package.json
  local stamp
  stamp=node_modules/.stamp-$(sha256sum <"$src" | cut -c1-16)
  [[ -f $stamp ]] && return
  say "installing Node dependencies"
  if [[ -f package-lock.json ]]; then
    quiet npm ci --no-audit --no-fund
  else
    quiet npm install --no-audit --no-fund
  fi
  rm -f node_modules/.stamp-*
  touch "$stamp"
}

ensure_debian_packages
ensure_venv
ensure_python_deps
ensure_node_deps
say "bootstrap ($MODE): ok"
