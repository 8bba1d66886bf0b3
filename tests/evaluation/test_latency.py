"""Latency percentiles: NumPy's interpolated percentiles under the names every report uses."""

import math

import pytest

from evaluation.latency import percentiles


def test_percentiles_interpolate_between_order_statistics():
    p = percentiles([10.0, 20.0, 30.0, 40.0, 50.0])
    assert p == {"p50_ms": 30.0, "p95_ms": pytest.approx(48.0), "p99_ms": pytest.approx(49.6)}
    assert percentiles([5.0, 1.0], (50,)) == {"p50_ms": 3.0}


def test_no_latencies_give_nan_not_an_error():
    assert all(math.isnan(v) for v in percentiles([]).values())
