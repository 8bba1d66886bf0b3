"""Evaluation songs: every stem decoded once to 16 kHz mono (model.multitrack.decode_song, as training
validation decodes them) and kept in memory, with the song's metadata; and their query pairs."""

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model import validate
from model.instruments import InstrumentVocabulary
from model.multitrack import SongRef, decode_song, discover
from model.validate import QueryPair

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalSong:
    """stems: instrument -> mono float32 waveform [T] at the model rate; metadata: the song's metadata.json."""

    song_id: str
    stems: dict[str, np.ndarray]
    metadata: dict[str, Any] = field(default_factory=dict)


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
    songs = [EvalSong(s.song_id, decode_song(s, sample_rate), _metadata(s)) for s in refs]
    seconds = sum(max((len(w) for w in s.stems.values()), default=0) for s in songs) / sample_rate
    log.info("decoded %d songs (%.0f s of audio) in %.1f s", len(songs), seconds, time.perf_counter() - t0)
    return songs


def as_stem_dicts(songs: Sequence[EvalSong]) -> list[tuple[str, dict[str, np.ndarray]]]:
    """The (song id, {instrument: wave}) form that model.validate.build_retrieval_set takes."""
    return [(s.song_id, s.stems) for s in songs]


def query_pairs(songs: Sequence[EvalSong], silence_dbfs: float = -50.0) -> list[QueryPair]:
    """model.validate.query_pairs of the songs: the queries every evaluation scores, in one order."""
    return validate.query_pairs(as_stem_dicts(songs), silence_dbfs)
