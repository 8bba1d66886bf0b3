"""Decode stage: catalogue files -> mono waveforms at the model's rate, their musical analysis, content
hashes and failures.

One task per file, so a `.stem.mp4` is read once for all its stems. Decoding and analysis run in worker
processes (spawned, so they never inherit the parent's torch threads) with a bounded number of files in
flight, overlapping with embedding in the parent. The audio path is model.audio's, exactly as
`Embedder.load_audio`; the analysis is analysis.music's, exactly as the service analyses a query.
"""

import hashlib
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analysis.music import StoredAnalysis, analyse
from model.audio import Audio, read_audio, read_streams, resample, to_mono
from model.errors import AudioDecodeError
from model.files import file_hash

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileTask:
    """One catalogue file and the stems (stem id, stream or None) to take from it; `analyse_only` names the
    stems already embedded whose analysis is missing or outdated (decoded and analysed, not embedded)."""

    path: str
    stems: tuple[tuple[int, int | None], ...]
    analyse_only: frozenset[int] = frozenset()


@dataclass(frozen=True)
class DecodedStem:
    """A decoded stem (wave [T] float32 at the model rate, its analysis, and whether it still needs
    embedding) or, when decoding failed, its error."""

    stem_id: int
    wave: np.ndarray | None
    error: str | None
    sha256: str | None
    duration_seconds: float
    sample_rate: int  # the source's own rate, Hz
    analysis: StoredAnalysis | None = None
    embed: bool = True

    @property
    def ok(self) -> bool:
        return self.error is None


def _with_stream(h: "hashlib._Hash", stream: int | None) -> str:
    if stream is not None:
        h.update(f"#{stream}".encode())
    return h.hexdigest()


def content_sha256(path: str | Path, stream: int | None) -> str:
    """sha256 of the file's bytes, plus the stream number for one stream of a multi-stream container."""
    return _with_stream(file_hash(path), stream)


def decode_file(task: FileTask, sample_rate: int) -> list[DecodedStem]:
    """Decodes and analyses the stems of one file; a failure is returned per stem, never raised. Stems that
    need no embedding come back without their waveform."""
    try:
        base = file_hash(task.path)
        digests = {stream: _with_stream(base.copy(), stream) for _, stream in task.stems}
    except OSError as exc:
        return [DecodedStem(sid, None, f"cannot read file: {exc}", None, 0.0, 0) for sid, _ in task.stems]
    streams: list[Audio] | None = None
    out = []
    for stem_id, stream in task.stems:
        digest = digests[stream]
        try:
            if stream is None:
                audio = read_audio(task.path)
            else:
                streams = streams if streams is not None else read_streams(task.path)
                if stream >= len(streams):
                    raise AudioDecodeError(task.path, f"no audio stream {stream} (file has {len(streams)})")
                audio = streams[stream]
            wave = resample(to_mono(audio.samples), audio.sample_rate, sample_rate)
            embed = stem_id not in task.analyse_only
            out.append(DecodedStem(stem_id, wave if embed else None, None, digest, audio.duration,
                                   audio.sample_rate, analyse(wave, sample_rate).stored(), embed))
        except AudioDecodeError as exc:
            out.append(DecodedStem(stem_id, None, exc.reason, digest, 0.0, 0))
    return out


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def _worker_init() -> None:
    """Decode workers exit when the indexing process dies (kill -9 included) instead of lingering."""
    threading.Thread(target=_exit_with, args=(os.getppid(),), daemon=True).start()


def decode_files(tasks: Iterable[FileTask], sample_rate: int, workers: int, prefetch: int = 4,
                 poll: bool = False) -> Iterator[list[DecodedStem]]:
    """Decoded stems per file, in completion order, with at most `workers * prefetch` files in flight.

    `workers` 0 decodes in this process (no overlap; for tests and debugging). With `poll`, an empty list
    means "nothing is finished right now": the consumer can use the moment (embed what it holds) and the next
    step then waits for a file; without it, every step waits.
    """
    if workers <= 0:
        for task in tasks:
            yield decode_file(task, sample_rate)
        return
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init) as pool:
        pending: set[Future[list[DecodedStem]]] = set()
        it = iter(tasks)
        exhausted = False
        while pending or not exhausted:
            while not exhausted and len(pending) < workers * prefetch:
                nxt = next(it, None)
                if nxt is None:
                    exhausted = True
                    break
                pending.add(pool.submit(decode_file, nxt, sample_rate))
            if not pending:
                break
            done, pending = wait(pending, timeout=0 if poll else None, return_when=FIRST_COMPLETED)
            if not done:
                yield []
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                yield fut.result()
