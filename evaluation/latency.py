"""Latency percentiles: the one summary every benchmark, load test and A/B timing reports."""

from collections.abc import Sequence

import numpy as np

PERCENTILES = (50, 95, 99)


def percentiles(ms: Sequence[float], qs: Sequence[int] = PERCENTILES) -> dict[str, float]:
    """{"p50_ms": ..., "p95_ms": ..., "p99_ms": ...} of latencies `ms` (milliseconds), by NumPy's linear
    interpolation between order statistics; NaN for each when there are none."""
    if not len(ms):
        return {f"p{q}_ms": float("nan") for q in qs}
    values = np.percentile(np.asarray(ms, dtype=np.float64), list(qs))
    return {f"p{q}_ms": float(v) for q, v in zip(qs, values, strict=True)}
