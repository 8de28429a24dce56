"""Benchmark of /items (bbox, limit=100) against vanilla pygeoapi and the SQL ceiling.

``python manage.py bench --only ogc_services [--quick]`` (``make bench``). For each table
size it builds ``bench.points_<n>`` (server-side ``generate_series``, never the demo
layers), starts our server (granian ``ogc_services.bench_wsgi``, which registers a temporary
layer in that process only) and vanilla pygeoapi (its Flask app, stock PostgreSQL provider,
same granian workers and threads) on the same table, and measures with ``wrk`` at
concurrency 1, 4, 16; the SQL ceiling is ``pgbench`` running our server's page statement
(``query.page_statement``, values inlined) at the same concurrency. The three take turns in
rounds, each on newly started servers, so that the machine's drift and where the scheduler puts
a server's threads (this 2-core VM: ±15 % between runs) fall on all of them alike.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from django.db import connection

from geo.benchruns import Run, combined, pct
from geo.db import database_url, libpq_env
from geo.processes import start_server, stop_process

CONCURRENCY = (1, 4, 16)
BBOX = (105.80, 21.55, 105.85, 21.60)  # ~0.16 % of the table's area


def _say(options: dict[str, Any], text: str) -> None:
    out = options.get("stdout")
    (out.write if out else print)(text)


def build_table(n: int) -> str:
    table = f"points_{n}"
    with connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA IF NOT EXISTS bench")
        cursor.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'bench' AND tablename = %s", [table]
        )
        if cursor.fetchone()[0]:
            cursor.execute(f"SELECT count(*) = %s FROM bench.{table}", [n])
            if cursor.fetchone()[0]:
                return table
            cursor.execute(f"DROP TABLE bench.{table}")
        x1, y1, x2, y2 = settings.IOC_PROVINCE_BBOX
        cursor.execute(
            f"""CREATE TABLE bench.{table} (
                    id bigint PRIMARY KEY, name text NOT NULL, value integer NOT NULL,
                    version integer NOT NULL DEFAULT 1, geom geometry(Point, 4326) NOT NULL)"""
        )
        cursor.execute("SELECT setseed(0.42)")
        cursor.execute(
            f"""INSERT INTO bench.{table} (id, name, value, geom)
                SELECT i, 'điểm ' || i, (i::bigint * 7919) %% 1000,
                       ST_SetSRID(ST_MakePoint(%s + random() * %s, %s + random() * %s), 4326)
                FROM generate_series(1, %s) AS i""",
            [x1, x2 - x1, y1, y2 - y1, n],
        )
        cursor.execute(f"CREATE INDEX ON bench.{table} USING gist (geom)")
        cursor.execute(f"ANALYZE bench.{table}")
    return table


def _vanilla_config(tmp: Path, table: str) -> tuple[Path, Path]:
    db = settings.DATABASES["default"]
    url = "https://example.org"
    config = {
        "server": {
            "bind": {"host": "127.0.0.1", "port": 5000},
            "url": "http://127.0.0.1:5000",
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "languages": ["en-US"],
            "limits": {"default_items": 10, "max_items": 10000},
            "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "OSM"},
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {
                "title": "bench",
                "description": "bench",
                "keywords": ["bench"],
                "keywords_type": "theme",
                "terms_of_service": url,
                "url": url,
            },
            "license": {"name": "CC-BY 4.0", "url": url},
            "provider": {"name": "bench", "url": url},
            "contact": {"name": "bench", "email": "bench@example.org", "role": "pointOfContact"},
        },
        "resources": {
            "bench_points": {
                "type": "collection",
                "title": "bench",
                "description": "bench",
                "keywords": ["bench"],
                "extents": {"spatial": {"bbox": list(settings.IOC_PROVINCE_BBOX)}},
                "providers": [
                    {
                        "type": "feature",
                        "name": "PostgreSQL",
                        "data": {
                            "host": str(db["HOST"]),
                            "port": int(db["PORT"]),
                            "dbname": db["NAME"],
                            "user": db["USER"],
                            "password": db.get("PASSWORD") or "",
                            "search_path": ["bench", "public"],
                        },
                        "id_field": "id",
                        "table": table,
                        "geom_field": "geom",
                    }
                ],
            }
        },
    }
    cfg = tmp / "pygeoapi.yml"
    cfg.write_text(yaml.safe_dump(config, allow_unicode=True))
    oas = tmp / "openapi.yml"
    subprocess.run(
        [
            str(Path(sys.executable).parent / "pygeoapi"),
            "openapi",
            "generate",
            str(cfg),
            "--output-file",
            str(oas),
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "PYGEOAPI_CONFIG": str(cfg)},
    )
    return cfg, oas


def _wrk(url: str, concurrency: int, seconds: int) -> Run:
    result = subprocess.run(
        [
            "wrk",
            f"-t{min(concurrency, 2)}",
            f"-c{concurrency}",
            f"-d{seconds}s",
            "--latency",
            "--timeout",
            "30s",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    out = result.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def latency(p: str) -> float:
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Run(rps, latency("50"), latency("99"), int(errors.group(1)) if errors else 0)


def _quiet(timeout: float = 30) -> None:
    """Wait until no other session of this database is running a statement: wrk stops when
    its time is up, but the requests then in flight still run (vanilla pygeoapi's take up to a
    second at 16 clients), and must not fall into the next contender's measurement."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state = 'active' AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0] == 0:
                return
            time.sleep(0.05)


def _page_sql(table: str) -> str:
    """The statement our server runs for the benchmark's request, values inlined for pgbench."""
    from psycopg import ClientCursor

    from ogc_services import query
    from ogc_services.benchlayer import bench_layer

    layer = bench_layer(table)
    x1, y1, x2, y2 = BBOX
    params = {"bbox": f"{x1},{y1},{x2},{y2}", "limit": "100"}
    sql, args = query.page_statement(query.parse_items(layer, layer.public_fields, params))
    with connection.cursor() as cursor:
        statement = ClientCursor(cursor.connection).mogrify(sql, args)
    return statement + ";\n"


def _pgbench(script: Path, concurrency: int, seconds: int, tmp: Path) -> Run:
    logdir = tmp / f"pgbench_{script.stem}_{concurrency}"
    shutil.rmtree(logdir, ignore_errors=True)
    logdir.mkdir()
    result = subprocess.run(
        [
            "pgbench",
            "-n",
            "-M",
            "prepared",
            "-c",
            str(concurrency),
            "-j",
            str(min(concurrency, 2)),
            "-T",
            str(seconds),
            "-f",
            str(script),
            "-l",
            "--log-prefix",
            str(logdir / "log"),
        ],
        capture_output=True,
        text=True,
        check=True,
        # The same session settings as the application's connections (geo/settings.py).
        env={
            **os.environ,
            **libpq_env(),
            # ... and the server's search_path, through which it finds the bench table
            "PGOPTIONS": settings.DATABASES["default"]["OPTIONS"]["options"]
            + " -c search_path=bench,public",
        },
    )
    tps = float(re.search(r"tps = ([\d.]+)", result.stdout).group(1))
    latencies = [
        int(line.split()[2]) / 1000
        for path in logdir.iterdir()
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    return Run(tps, pct(latencies, 50), pct(latencies, 99))


def run(options: dict[str, Any]) -> str:
    quick = options.get("quick")
    sizes = (10_000, 100_000) if quick else (100_000, 1_000_000)
    seconds, rounds = (3, 1) if quick else (4, 3)
    rows: list[str] = []
    tmp = Path(tempfile.mkdtemp(prefix="ogc-bench-"))
    x1, y1, x2, y2 = BBOX
    query = f"bbox={x1},{y1},{x2},{y2}&limit=100&f=json"
    try:
        for n in sizes:
            _say(options, f"  building bench.points_{n} …")
            table = build_table(n)
            cfg, oas = _vanilla_config(tmp, table)
            script = tmp / f"page_{table}.sql"
            script.write_text(_page_sql(table))
            runs: dict[int, dict[str, list[Run]]] = {
                c: {"a": [], "b": [], "s": []} for c in CONCURRENCY
            }
            # Rounds, each on newly started servers: at one client a server's figure depends on
            # where the scheduler placed its threads (±15 % from one start to the next here),
            # and every contender takes its turn in each round, so drift falls on all three.
            for number in range(1, rounds + 1):
                _say(options, f"  n={n:,} round {number}/{rounds}: ours, vanilla, pgbench …")
                ours_url, ours = start_server(
                    {
                        "DATABASE_URL": database_url(options="-c search_path=bench,public"),
                        "IOC_BENCH_TABLE": table,
                    },
                    tmp / f"ours_{n}.log",
                    app="ogc_services.bench_wsgi:application",
                    probe=f"/ogc/collections/bench_points/items?{query}",
                )
                vanilla_url, vanilla = start_server(
                    {"PYGEOAPI_CONFIG": str(cfg), "PYGEOAPI_OPENAPI": str(oas)},
                    tmp / f"vanilla_{n}.log",
                    app="pygeoapi.flask_app:APP",
                    probe=f"/collections/bench_points/items?{query}",
                )
                ours_items = f"{ours_url}/ogc/collections/bench_points/items?{query}"
                vanilla_items = f"{vanilla_url}/collections/bench_points/items?{query}"
                try:
                    # Warm-up at the highest concurrency (not measured): every worker thread
                    # has its database connection and code paths loaded before the first cell.
                    _wrk(ours_items, 16, 2)
                    _wrk(vanilla_items, 16, 2)
                    for c in CONCURRENCY:
                        _quiet()
                        runs[c]["a"].append(_wrk(ours_items, c, seconds))
                        _quiet()
                        runs[c]["b"].append(_wrk(vanilla_items, c, seconds))
                        _quiet()
                        runs[c]["s"].append(_pgbench(script, c, seconds, tmp))
                finally:
                    stop_process(ours)
                    stop_process(vanilla)
            for c in CONCURRENCY:
                a, b, s = (combined(runs[c][key]) for key in "abs")
                rows.append(
                    f"| {n:,} | {c} | {a.rps:.0f} | {a.p50_ms:.1f} | {a.p99_ms:.1f} "
                    f"| {b.rps:.0f} | {b.p50_ms:.1f} | {b.p99_ms:.1f} "
                    f"| {s.rps:.0f} | {s.p50_ms:.1f} | {s.p99_ms:.1f} "
                    f"| **{a.rps / b.rps:.1f}×** | **{a.rps / s.rps:.2f}×** "
                    f"| {a.errors}/{b.errors} |"
                )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    header = (
        "## OGC API Features /items (ogc_services)\n\n"
        f"`GET /items?bbox={x1},{y1},{x2},{y2}&limit=100` (GeoJSON) on `bench.points_<n>` "
        "(random points over the province, GiST index). Ours: granian (WSGI, 2 workers × "
        "4 threads, as the peers get; `make run` starts 2 × cores + 1 workers "
        "to hold live-update streams) on `ogc_services.bench_wsgi` (the platform's `geo.wsgi` "
        "plus the bench layer; anonymous GeoJSON pages of public collections are answered by "
        "`ogc_services/fastpath.py` before Django, which remembers a query string's parsed "
        "plan: every request here after the first reuses it, and a query string not seen "
        "before costs ~70 µs more of our Python, in process); vanilla: pygeoapi "
        "0.24 Flask app with its stock `PostgreSQL` provider under the same server, workers and "
        "threads (so the comparison stays fair), same table; "
        "SQL ceiling: `pgbench -M prepared` running the very statement our server runs for that "
        "request (`ogc_services.query.page_statement`, values inlined; no HTTP). "
        f"Each cell: {rounds} rounds of ours, vanilla, pgbench in turn, {seconds} s each, "
        "every round on newly started servers"
        f"{' (--quick)' if quick else ''} (req/s: the mean; p50: the median; p99: the worst "
        "round), after a 2 s warm-up of each server at 16 clients; each run starts once the "
        "database runs no statement of the previous one (requests still in flight when wrk "
        "stops). "
        "Goals: ≥ 3× vanilla, ≥ 0.5× SQL ceiling, latency flat from the smaller to the larger "
        "table.\n\n"
        "| rows | conc. | ours req/s | p50 ms | p99 ms | vanilla req/s | p50 ms | p99 ms "
        "| SQL req/s | p50 ms | p99 ms | ours/vanilla | ours/SQL | non-2xx ours/vanilla |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    return header + "\n".join(rows) + "\n"
