"""Benchmark of the map viewer: navigation → first map ``idle`` with the default layers, and
bytes transferred for that first view, in headless Chromium against our server (granian, as
`make run`) on localhost.

Each run is a fresh browser context (empty HTTP cache); the server's tile cache is warm after
the first run, so run 1 shows a cold tile cache and the median the usual case.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import tempfile
from pathlib import Path

from django.conf import settings

from geo.processes import start_server, stop_process

SCRIPT = Path(settings.BASE_DIR) / "tests" / "browser" / "bench.mjs"
GOAL_MS = 3000


def run(options) -> str:
    from django.core.management import call_command

    call_command("viewer_glyphs", verbosity=0)
    runs = 2 if options.get("quick") else 5
    log = Path(tempfile.mkdtemp(prefix="viewer-bench-")) / "server.log"
    url, server = start_server({}, log)
    try:
        out = subprocess.run(
            ["node", str(SCRIPT), json.dumps({"url": url, "runs": runs})],
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        ).stdout
    finally:
        stop_process(server)
    result = json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[7:])
    rows = result["runs"]
    idle = [r["idle_ms"] for r in rows]
    median = statistics.median(idle)
    lines = [
        "Map viewer (`/`): navigation → first `idle` with the default layers, headless Chromium "
        "(SwiftShader WebGL) on localhost, fresh browser context per run.",
        "",
        "| run | first idle (ms) | bytes transferred | requests |",
        "|---|---:|---:|---:|",
    ]
    for i, r in enumerate(rows, 1):
        lines.append(f"| {i} | {r['idle_ms']} | {r['bytes']:,} | {r['requests']} |")
    lines += [
        "",
        f"Median first idle: **{median:.0f} ms** (goal < {GOAL_MS} ms: "
        f"{'met' if median < GOAL_MS else 'not met'}); ratio to goal {median / GOAL_MS:.2f}.",
    ]
    return "\n".join(lines) + "\n"
