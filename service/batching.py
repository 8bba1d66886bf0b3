"""Micro-batching of query embeddings: one worker thread owns the model and serves queued queries in batches.

Concurrent requests submit (mix, instrument) pairs; the worker takes the first waiting query, waits up to
`wait_ms` for up to `max_size - 1` more, and runs them through `Embedder.predict` in one call. On a GPU
this turns N concurrent forward passes into one; on a CPU it still serialises model access, so requests
never race inside torch.
"""

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from model.embed import Embedding

log = logging.getLogger(__name__)

PredictFn = Callable[[Sequence[np.ndarray], Sequence[str]], list[Embedding]]


@dataclass
class _Job:
    mix: np.ndarray
    instrument: str
    future: "Future[Embedding]"


class MicroBatcher:
    """Queues prediction requests and runs them in batches on one background thread."""

    def __init__(self, predict: PredictFn, max_size: int = 8, wait_ms: float = 4.0,
                 on_batch: Callable[[int, float], None] | None = None) -> None:
        self._predict = predict
        self._max_size = max_size
        self._wait = wait_ms / 1000.0
        self._on_batch = on_batch
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="stemjepa-batcher", daemon=True)
        self._closed = False
        self._thread.start()

    def submit(self, mix: np.ndarray, instrument: str) -> "Future[Embedding]":
        """Queues one query; the future resolves to its Embedding (or the exception predict raised)."""
        if self._closed:
            raise RuntimeError("the batcher is closed")
        future: Future[Embedding] = Future()
        self._queue.put(_Job(mix, instrument, future))
        return future

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join(timeout=10)

    def _collect(self, first: _Job) -> tuple[list[_Job], bool]:
        jobs, stop = [first], False
        deadline = time.monotonic() + self._wait
        while len(jobs) < self._max_size:
            remaining = deadline - time.monotonic()
            try:
                job = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                stop = True
                break
            jobs.append(job)
        return jobs, stop

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            jobs, stop = self._collect(first)
            jobs = [j for j in jobs if j.future.set_running_or_notify_cancel()]
            if jobs:
                self._run(jobs)
            if stop:
                return

    def _run(self, jobs: list[_Job]) -> None:
        started = time.perf_counter()
        try:
            outputs = self._predict([j.mix for j in jobs], [j.instrument for j in jobs])
        except Exception as exc:  # handed to every waiting request, which maps it to its answer
            log.exception("batch of %d failed", len(jobs))
            for job in jobs:
                job.future.set_exception(exc)
            return
        for job, out in zip(jobs, outputs, strict=True):
            job.future.set_result(out)
        if self._on_batch is not None:
            self._on_batch(len(jobs), time.perf_counter() - started)
