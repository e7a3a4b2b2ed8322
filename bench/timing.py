"""Small statistics over latencies and rates."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linearly interpolated."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """Median, p95 and mean of latencies given in seconds, in milliseconds."""
    return {
        "n": len(seconds),
        "median_ms": round(statistics.median(seconds) * 1e3, 4),
        "p95_ms": round(percentile(seconds, 95) * 1e3, 4),
        "mean_ms": round(statistics.fmean(seconds) * 1e3, 4),
    }


def timed(work: Callable[[], object]) -> float:
    """Seconds `work()` took."""
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def timed_round(
    step: Callable[[], None], ops: int, cpu: Any, latencies: list[float] | None = None
) -> float:
    """Run `ops` steps, metered by `cpu` (a bench.cpu.CpuMeter); operations per second.
    With `latencies`, each step's latency is recorded there."""
    cpu.start()
    start = time.perf_counter()
    for _ in range(ops):
        if latencies is None:
            step()
            continue
        t0 = time.perf_counter()
        step()
        latencies.append(time.perf_counter() - t0)
    rate = ops / (time.perf_counter() - start)
    cpu.stop()
    return rate


def ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 4) if denominator else float("nan")
