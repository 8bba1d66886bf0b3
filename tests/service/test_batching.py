"""The micro-batcher answers each query with its own embedding and groups concurrent queries."""

import threading
import time
from collections.abc import Sequence

import numpy as np
import pytest

from model.embed import Embedding
from service.batching import MicroBatcher


def fake_predict(calls: list[int]):  # type: ignore[no-untyped-def]
    def predict(mixes: Sequence[np.ndarray], instruments: Sequence[str]) -> list[Embedding]:
        calls.append(len(mixes))
        time.sleep(0.02)
        if "boom" in instruments:
            raise ValueError("boom")
        return [Embedding(np.array([m[0], len(i)], dtype=np.float32), np.zeros((1, 2), np.float32))
                for m, i in zip(mixes, instruments, strict=True)]
    return predict


def test_concurrent_queries_are_batched_and_get_their_own_answers() -> None:
    calls: list[int] = []
    batcher = MicroBatcher(fake_predict(calls), max_size=8, wait_ms=20)
    results: dict[int, Embedding] = {}

    def one(i: int) -> None:
        results[i] = batcher.submit(np.full(4, float(i), np.float32), "x" * (i % 3 + 1)).result(timeout=5)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    batcher.close()
    assert all(results[i].vector[0] == i and results[i].vector[1] == i % 3 + 1 for i in range(16))
    assert sum(calls) == 16 and max(calls) > 1 and max(calls) <= 8


def test_a_failing_batch_fails_its_requests_and_the_batcher_keeps_going() -> None:
    batcher = MicroBatcher(fake_predict([]), max_size=1, wait_ms=0)
    with pytest.raises(ValueError, match="boom"):
        batcher.submit(np.zeros(4, np.float32), "boom").result(timeout=5)
    assert batcher.submit(np.ones(4, np.float32), "ok").result(timeout=5).vector[0] == 1.0
    batcher.close()
    with pytest.raises(RuntimeError):
        batcher.submit(np.ones(4, np.float32), "ok")
