"""What ``manage.py bench`` measures of one contender in one run, and how runs combine
(tiles/bench.py, ogc_services/bench.py)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field


@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int = 0  # responses other than 200
    sizes: dict[int, int] = field(default_factory=dict)  # largest body per zoom (tiles)


def pct(values: list[float], q: float) -> float:
    """The ``q``-th percentile of ``values`` (nearest rank), NaN for none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def combined(runs: list[Run]) -> Run:
    """Equal-length runs of one contender as one: mean rate, median p50, worst p99, all the
    errors, the largest sizes."""
    sizes: dict[int, int] = defaultdict(int)
    for run in runs:
        for z, size in run.sizes.items():
            sizes[z] = max(sizes[z], size)
    return Run(
        statistics.fmean(r.rps for r in runs),
        statistics.median(r.p50_ms for r in runs),
        max(r.p99_ms for r in runs),
        sum(r.errors for r in runs),
        dict(sizes),
    )
