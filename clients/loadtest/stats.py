"""Latency samples and the figures a load test reports from them."""

from __future__ import annotations

import math
from collections.abc import Iterable


def percentile(samples: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of `samples`; 0 when there are none."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(samples: Iterable[float]) -> dict[str, float]:
    """Count, p50, p90, p99 and max of latencies in milliseconds."""
    values = list(samples)
    return {
        "count": len(values),
        "p50_ms": round(percentile(values, 50), 3),
        "p90_ms": round(percentile(values, 90), 3),
        "p99_ms": round(percentile(values, 99), 3),
        "max_ms": round(max(values), 3) if values else 0.0,
    }
