"""The service under load: 50 concurrent clients (evaluation.loadtest) on loopback, every request answered."""

import asyncio

import pytest

from evaluation.loadtest import run_load
from tests.service.conftest import SONGS, mix_without


@pytest.mark.slow
def test_fifty_concurrent_clients_get_no_errors(live_url: str) -> None:
    report = asyncio.run(run_load(live_url, mix_without("bass"), "mix.wav", "bass", clients=50, requests=150))
    assert report.errors == 0, report.error_samples
    assert len(report.latencies_ms) == 150 and report.info["index_size"] == 4 * SONGS
    p = report.summary()
    assert "p50" in p and "p99" in p and "0 errors" in p
