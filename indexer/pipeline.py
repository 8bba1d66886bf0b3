"""Embed stage and the local engine: decoded stems -> embedded stems, in batches, decode overlapped.

Both engines (this one and `indexer.ray_engine`) yield the same `Outcome`s to the same writer, so the
commit protocol does not depend on where embedding ran.
"""

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from analysis.music import StoredAnalysis
from indexer.decode import DecodedStem, FileTask, decode_files
from model.embed import Embedder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """One stem's result: vector [D] and frames [T, frame_dim] float32 (None for a stem that was only
    analysed, `embedded` False), its analysis, or `error` when decoding failed."""

    stem_id: int
    vector: np.ndarray | None
    frames: np.ndarray | None
    error: str | None
    sha256: str | None
    duration_seconds: float
    sample_rate: int
    analysis: StoredAnalysis | None = None
    embedded: bool = True

    @property
    def ok(self) -> bool:
        return self.error is None


def failure(d: DecodedStem) -> Outcome:
    return Outcome(d.stem_id, None, None, d.error or "unknown decode error", d.sha256, 0.0, 0)


def analysed_only(d: DecodedStem) -> Outcome:
    """The outcome of a stem that was already embedded and has only been analysed now."""
    return Outcome(d.stem_id, None, None, None, d.sha256, d.duration_seconds, d.sample_rate, d.analysis, False)


def embed_decoded(embedder: Embedder, decoded: list[DecodedStem]) -> list[Outcome]:
    """Embeds the decoded stems in one call (the Embedder batches their 8 s windows)."""
    if not decoded:
        return []
    embs = embedder.embed_stems([d.wave for d in decoded if d.wave is not None])
    return [Outcome(d.stem_id, e.vector, e.frames, None, d.sha256, d.duration_seconds, d.sample_rate, d.analysis)
            for d, e in zip(decoded, embs, strict=True)]


def run_local(tasks: Iterable[FileTask], embedder: Embedder, batch_size: int, workers: int) -> Iterator[Outcome]:
    """Decodes and analyses in `workers` processes while this process embeds up to `batch_size` stems at a
    time: whatever is decoded whenever no further file is finished, so that neither side waits for the
    other to fill a batch (on two cores, waiting for 16 decoded stems before embedding left a core idle
    for most of each batch)."""
    ready: list[DecodedStem] = []
    for decoded in decode_files(tasks, embedder.sample_rate, workers, poll=True):
        for d in decoded:
            if not d.ok:
                yield failure(d)
            elif d.embed:
                ready.append(d)
            else:
                yield analysed_only(d)
        if len(ready) >= batch_size or (ready and not decoded):
            batch, ready = ready[:batch_size], ready[batch_size:]
            yield from embed_decoded(embedder, batch)
    while ready:
        batch, ready = ready[:batch_size], ready[batch_size:]
        yield from embed_decoded(embedder, batch)
