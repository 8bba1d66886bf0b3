"""What a /retrieve answer keeps so that the offsets it did not refine can be refined when the page shows them.

A request refines the offsets of its first `refine_top` results (analysis.placement over the fused curve, about
25 ms of CPU per hit); the others carry the model curve's coarse offset. Refining all ten on the request's path
costs more than the rest of a 30 s query together, and the producer looks at the first results first. So the
request keeps its query's frames and analysis under a random id (`QueryInfo.query_id`), and
POST /retrieve/{query_id}/refine aligns the results asked for, exactly as the request would have.

Kept per process (a replica that did not answer the request answers 404, and the client sends the mix again),
least recently used first out, bounded by entries, bytes and age.
"""

import dataclasses
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from threading import Lock
from typing import Any

import numpy as np

from analysis.music import Analysis
from service.schemas import RetrieveResult


def _nbytes(value: Any, depth: int = 0) -> int:
    """Bytes of the arrays inside `value` (dataclasses, tuples and lists of them, two levels deep is enough for
    an Analysis: Signature, BeatGrid, TempoEstimate hold arrays directly)."""
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if depth > 2:
        return 0
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sum(_nbytes(getattr(value, f.name), depth + 1) for f in dataclasses.fields(value))
    if isinstance(value, list | tuple):
        return sum(_nbytes(v, depth + 1) for v in value)
    return 0


@dataclass(frozen=True)
class KeptQuery:
    """frames: the query's predicted frames [T, F]; analysis: its music analysis; start_seconds: where the
    section starts in the upload (offsets are answered in the upload's time); results: the answer's results by
    stem id (only those may be refined; a refined one is this result with new offset fields); stretches: stem id
    -> the stretch each was conformed with, unrounded (as the request aligned it)."""

    frames: np.ndarray
    analysis: Analysis
    start_seconds: float
    results: dict[int, RetrieveResult]
    stretches: dict[int, float]

    @property
    def nbytes(self) -> int:
        # A result is about a kilobyte of Python objects, plus its curve's points (a few dozen bytes each).
        points = sum(len(r.curve.offsets_seconds) + len(r.curve.fused) for r in self.results.values() if r.curve)
        return _nbytes(self.frames) + _nbytes(self.analysis) + 1024 * len(self.results) + 64 * points


class QueryCache:
    """Thread-safe LRU of KeptQuery by id. `put` returns the id, or None when the query alone is over
    `max_bytes` (nothing is kept, and its unrefined offsets stay coarse)."""

    def __init__(self, max_entries: int, max_bytes: int, ttl_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._items: OrderedDict[str, tuple[float, int, KeptQuery]] = OrderedDict()
        self._bytes = 0
        self._lock = Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    @property
    def bytes(self) -> int:
        with self._lock:
            return self._bytes

    def put(self, kept: KeptQuery) -> str | None:
        size = kept.nbytes
        if self.max_entries == 0 or size > self.max_bytes:
            return None
        query_id = secrets.token_urlsafe(16)
        with self._lock:
            self._expire(self._clock())
            while self._items and (len(self._items) >= self.max_entries or self._bytes + size > self.max_bytes):
                self._drop(next(iter(self._items)))
            self._items[query_id] = (self._clock(), size, kept)
            self._bytes += size
        return query_id

    def get(self, query_id: str) -> KeptQuery | None:
        with self._lock:
            self._expire(self._clock())
            item = self._items.get(query_id)
            if item is None:
                return None
            self._items.move_to_end(query_id)
            return item[2]

    def _expire(self, now: float) -> None:
        # Oldest first in insertion order is not oldest by age once `get` reorders, so scan: the cache is small.
        for query_id in [q for q, (at, _, _) in self._items.items() if now - at > self.ttl_seconds]:
            self._drop(query_id)

    def _drop(self, query_id: str) -> None:
        _, size, _ = self._items.pop(query_id)
        self._bytes -= size
