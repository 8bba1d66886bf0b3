"""Write stage: the commit protocol that keeps SQL, vectors, frames and analyses in step across crashes.

Outcomes are buffered; a commit writes the buffered vectors, frames and analyses as one durable chunk file
(renamed into place) and only then, in one SQL transaction, marks those stems 'indexed' with their analysis
facts (and failures 'failed') and advances the job's progress. SQL therefore never calls a stem indexed,
or analysed, whose vector or analysis is not on disk.
"""

import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sqlalchemy import update
from sqlalchemy.orm import sessionmaker

from analysis.music import ANALYSIS_VERSION, StoredAnalysis
from indexer import jobs
from indexer.chunks import Chunk, write_chunk
from indexer.db import Stem, StemStatus, utcnow
from indexer.pipeline import Outcome

log = logging.getLogger(__name__)


def analysis_values(analysis: StoredAnalysis | None, version: int = ANALYSIS_VERSION) -> dict[str, object]:
    """The stems-table columns of an analysis (none for a stem without one)."""
    return {} if analysis is None else {**analysis.facts(), "analysis_version": version}


class Writer:
    """Buffers outcomes and commits them every `commit_stems` stems or `commit_seconds` seconds."""

    def __init__(self, sessions: sessionmaker, index_dir: Path, checkpoint_hash: str, job_id: int | None,
                 commit_stems: int, commit_seconds: float, on_commit: Callable[["Writer"], None] | None = None,
                 dim: int = 0, frame_dim: int = 0, generation: str = "") -> None:
        self.sessions = sessions
        self.generation = generation  # of the rebuild this run is (indexer.generation), "" otherwise
        self.dim = dim
        self.frame_dim = frame_dim
        self.index_dir = index_dir
        self.checkpoint_hash = checkpoint_hash
        self.job_id = job_id
        self.commit_stems = commit_stems
        self.commit_seconds = commit_seconds
        self.on_commit = on_commit
        self.added = 0
        self.analysed = 0  # stems embedded before, analysed by this run
        self.failed = 0
        self.audio_seconds = 0.0
        self.failures: list[tuple[int, str]] = []
        self._ok: list[Outcome] = []
        self._bad: list[Outcome] = []
        self._last = time.monotonic()

    @property
    def done(self) -> int:
        return self.added + self.analysed + self.failed

    def _chunk(self, ok: list[Outcome]) -> Chunk:
        no_frames = np.zeros((0, self.frame_dim), np.float32)
        return Chunk(
            np.array([o.stem_id for o in ok], dtype=np.int64),
            np.stack([o.vector if o.vector is not None else np.zeros(self.dim, np.float32) for o in ok]),
            [o.frames if o.frames is not None else no_frames for o in ok],
            [o.sha256 or "" for o in ok],
            np.array([o.duration_seconds for o in ok]),
            np.array([o.sample_rate for o in ok]),
            self.checkpoint_hash,
            embedded=np.array([o.embedded for o in ok], dtype=bool),
            analyses=[o.analysis for o in ok],
            analysis_version=ANALYSIS_VERSION,
            generation=self.generation,
        )

    def add(self, outcome: Outcome) -> None:
        (self._ok if outcome.ok else self._bad).append(outcome)
        if len(self._ok) + len(self._bad) >= self.commit_stems or time.monotonic() - self._last >= self.commit_seconds:
            self.commit()

    def commit(self) -> None:
        ok, bad = self._ok, self._bad
        self._ok, self._bad, self._last = [], [], time.monotonic()
        if not ok and not bad:
            return
        if ok:
            write_chunk(self.index_dir, self._chunk(ok))
        now = utcnow()
        embedded = [o for o in ok if o.embedded]
        with self.sessions() as s, s.begin():
            for o in ok:
                values = analysis_values(o.analysis)
                if o.embedded:
                    values |= {"status": StemStatus.INDEXED, "error": None, "content_sha256": o.sha256,
                               "duration_seconds": o.duration_seconds, "sample_rate": o.sample_rate,
                               "indexed_at": now, "frame_count": len(o.frames) if o.frames is not None else 0}
                s.execute(update(Stem).where(Stem.id == o.stem_id).values(**values))
            for o in bad:
                s.execute(update(Stem).where(Stem.id == o.stem_id).values(
                    status=StemStatus.FAILED, error=o.error, content_sha256=o.sha256))
            self.added += len(embedded)
            self.analysed += len(ok) - len(embedded)
            self.failed += len(bad)
            self.audio_seconds += sum(o.duration_seconds for o in embedded)
            if self.job_id is not None:
                jobs.record(s, self.job_id, done=self.done, added=self.added, failed=self.failed,
                            audio_seconds=self.audio_seconds)
        self.failures.extend((o.stem_id, o.error or "") for o in bad)
        log.debug("committed %d indexed, %d failed", len(ok), len(bad))
        if self.on_commit is not None:
            self.on_commit(self)
