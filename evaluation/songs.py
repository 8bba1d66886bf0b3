"""Evaluation songs: every stem decoded once to 16 kHz mono and kept in memory, with the song's metadata.

A `.stem.mp4` is decoded in one pass over all its streams; a song folder's files one by one. Stems of the
same instrument class in one song are summed, since the retrieval unit is one stem per instrument.
"""

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model.audio import load_mono, read_streams, resample, rms_dbfs, to_mono
from model.instruments import InstrumentVocabulary
from model.multitrack import SongRef, discover

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalSong:
    """stems: instrument -> mono float32 waveform [T] at the model rate; metadata: the song's metadata.json."""

    song_id: str
    stems: dict[str, np.ndarray]
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class QueryPair:
    """One retrieval query: the stem to find and the mix of the song's other live stems (same length)."""

    song_id: str
    instrument: str
    stem: np.ndarray
    mix: np.ndarray


def _decode(song: SongRef, sample_rate: int) -> dict[str, np.ndarray]:
    streams: dict[Path, list[np.ndarray]] = {}
    waves: dict[str, list[np.ndarray]] = {}
    for stem in song.stems:
        if stem.stream is not None:
            if stem.path not in streams:  # decode every stream of the container in one pass
                streams[stem.path] = [
                    resample(to_mono(a.samples), a.sample_rate, sample_rate) for a in read_streams(stem.path)
                ]
            wave = streams[stem.path][stem.stream]
        else:
            wave = load_mono(stem.path, sample_rate)
        waves.setdefault(stem.instrument, []).append(wave)
    out = {}
    for inst, parts in waves.items():
        n = min(len(p) for p in parts)
        out[inst] = np.sum([p[:n] for p in parts], axis=0).astype(np.float32)
    return out


def _metadata(song: SongRef) -> dict[str, Any]:
    if not song.stems or song.stems[0].stream is not None:
        return {}
    path = song.stems[0].path.parent / "metadata.json"
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    return data if isinstance(data, dict) else {}


def load_songs(
    root: str | Path, sample_rate: int = 16_000, vocab: InstrumentVocabulary | None = None, limit: int | None = None
) -> list[EvalSong]:
    """Discovers and decodes the songs under `root` (see model.multitrack.discover), at most `limit` of them."""
    t0 = time.perf_counter()
    found = discover(root, vocab)
    for path, reason in found.unresolved:
        log.warning("skipping %s: %s", path, reason)
    refs = found.songs[:limit] if limit is not None else found.songs
    songs = [EvalSong(s.song_id, _decode(s, sample_rate), _metadata(s)) for s in refs]
    seconds = sum(max((len(w) for w in s.stems.values()), default=0) for s in songs) / sample_rate
    log.info("decoded %d songs (%.0f s of audio) in %.1f s", len(songs), seconds, time.perf_counter() - t0)
    return songs


def as_stem_dicts(songs: Sequence[EvalSong]) -> list[tuple[str, dict[str, np.ndarray]]]:
    """The (song id, {instrument: wave}) form that model.validate.build_retrieval_set takes."""
    return [(s.song_id, s.stems) for s in songs]


def query_pairs(songs: Sequence[EvalSong], silence_dbfs: float = -50.0) -> list[QueryPair]:
    """Queries in the order of model.validate.build_retrieval_set: songs in order, live stems sorted by
    instrument; silent stems and songs with fewer than two live stems are left out, as there."""
    pairs = []
    for song in songs:
        live = {k: w for k, w in song.stems.items() if rms_dbfs(w) > silence_dbfs}
        if len(live) < 2:
            continue
        n = min(len(w) for w in live.values())
        for inst, wave in sorted(live.items()):
            mix = np.sum([w[:n] for k, w in live.items() if k != inst], axis=0).astype(np.float32)
            pairs.append(QueryPair(song.song_id, inst, wave[:n], mix))
    return pairs
