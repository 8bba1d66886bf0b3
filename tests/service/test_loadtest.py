"""50 concurrent clients on loopback: every request answered, latencies reported."""

import asyncio

import pytest

from service.loadtest import run_load
from tests.service.conftest import SONGS, mix_without


@pytest.mark.slow
def test_fifty_concurrent_clients_get_no_errors(live_url: str) -> None:
    report = asyncio.run(run_load(live_url, mix_without("bass"), "mix.wav", "bass", clients=50, requests=150))
    print("\nload test:", report.summary())
    assert report.errors == 0, report.error_samples
    assert len(report.latencies_ms) == 150 and report.info["index_size"] == 4 * SONGS
