"""Training cache: songs decoded once to 16 kHz mono float16, one [n_instruments, T] array per song.

Decoding compressed audio is the slow part of training; with the cache an epoch reads memory-mapped
arrays. Several files of one class in a song (guitar + piano -> other) are summed into that class's row;
absent classes are zero rows (silent, so never sampled).
"""

import hashlib
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from rich.progress import Progress

from model.errors import AudioDecodeError
from model.files import atomic_write
from model.instruments import InstrumentVocabulary
from model.multitrack import SongRef, decode_song, discover, refuse_evaluation_songs

log = logging.getLogger(__name__)

INDEX_NAME = "songs.json"


@dataclass(frozen=True)
class CachedSong:
    song_id: str
    file: Path
    frames: int  # samples per stem row
    source: int = 0  # which --data root it came from; training draws roots evenly

    def load(self) -> np.ndarray:
        """[n_instruments, T] float16, memory-mapped."""
        return np.load(self.file, mmap_mode="r")


def _song_key(song: SongRef, sample_rate: int) -> str:
    h = hashlib.sha1()
    for s in sorted(song.stems, key=lambda s: s.key):
        st = s.path.stat()
        h.update(f"{s.key}|{s.instrument}|{st.st_size}|{st.st_mtime_ns}|{sample_rate}".encode())
    return h.hexdigest()[:20]


def song_array(song: SongRef, vocab: InstrumentVocabulary, sample_rate: int) -> np.ndarray:
    """All stems of a song at `sample_rate`, summed per class (model.multitrack.decode_song), as rows of one
    array [n_instruments, T] float32; shorter and absent classes are zero-padded."""
    waves = decode_song(song, sample_rate)
    length = max(len(w) for w in waves.values())
    out = np.zeros((len(vocab), length), dtype=np.float32)
    for inst, w in waves.items():
        out[vocab.index(inst), : len(w)] = w
    return out


def build_cache(
    roots: list[Path], cache_dir: Path, vocab: InstrumentVocabulary, sample_rate: int = 16_000,
    workers: int | None = None,
) -> list[CachedSong]:
    """Decodes every song under `roots` into `cache_dir` (skipping songs already cached) and returns them,
    in discovery order; `workers` decoding threads (default: one per core).

    Raises:
        ReservedDataError: a root holds songs of the fixed evaluation set, which nothing may train on.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    songs: list[tuple[int, SongRef]] = []
    for source, root in enumerate(roots):
        found = discover(root, vocab)
        for path, reason in found.unresolved:
            log.warning("skipping %s: %s", path, reason)
        refuse_evaluation_songs(found.songs, "training")
        songs.extend((source, s) for s in found.songs)

    def cache_one(item: tuple[int, SongRef]) -> CachedSong | None:
        source, song = item
        file = cache_dir / f"{_song_key(song, sample_rate)}.npy"
        if not file.exists():
            try:
                arr = song_array(song, vocab, sample_rate).astype(np.float16)
            except AudioDecodeError as exc:
                log.warning("skipping song %s: %s", song.song_id, exc)
                return None
            # concurrent runs may cache the same song at once: each writes its own temporary file
            atomic_write(file, partial(np.save, arr=arr))
        return CachedSong(song.song_id, file, int(np.load(file, mmap_mode="r").shape[1]), source)

    # Decoding runs in threads: libsndfile, FFmpeg and soxr release the GIL, so a corpus of hundreds of songs
    # is cached at the machine's core count (the first minute of a GPU run, not ten). Order is the songs'.
    threads = max(1, min(workers or (os.cpu_count() or 1), len(songs) or 1))
    cached: list[CachedSong] = []
    with Progress(transient=True) as progress, ThreadPoolExecutor(threads) as pool:
        task = progress.add_task("caching songs", total=len(songs))
        for result in pool.map(cache_one, songs):
            if result is not None:
                cached.append(result)
            progress.advance(task)
    (cache_dir / INDEX_NAME).write_text(json.dumps([[c.song_id, c.file.name, c.frames] for c in cached]))
    log.info("cache: %d songs, %.1f h of multitrack audio in %s", len(cached),
             sum(c.frames for c in cached) / sample_rate / 3600, cache_dir)
    return cached
