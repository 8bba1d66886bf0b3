"""Fixtures of the evaluation tests: small in-memory songs (with key and tempo labels) and a song folder."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from evaluation.songs import EvalSong
from tests.conftest import synth_stems

SR = 16_000
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def labelled_song(song_id: str, tonic: int, mode: str, tempo: float, seconds: float = 4.0) -> EvalSong:
    """Four stems in a known key and tempo: bass on the tonic, a triad, a pulse, a melody on the fifth."""
    t = np.arange(int(seconds * SR)) / SR
    beat = 60.0 / tempo
    phase = (t % beat) / beat
    f0 = 55.0 * 2 ** (tonic / 12)
    third = 3 if mode == "minor" else 4
    stems = {
        "bass": 0.3 * np.sin(2 * np.pi * f0 * t) * np.exp(-4 * phase),
        "drums": 0.4 * np.sin(2 * np.pi * 60 * t) * np.exp(-30 * phase),
        "other": sum(0.08 * np.sin(2 * np.pi * f0 * 4 * 2 ** (s / 12) * t) for s in (0, third, 7)),
        "vocals": 0.15 * np.sin(2 * np.pi * f0 * 8 * 2 ** (7 / 12) * t) * (phase < 0.7),
    }
    meta = {"key": f"{NOTE_NAMES[tonic]} {mode}", "tonic": tonic, "mode": mode, "tempo": tempo}
    return EvalSong(song_id, {k: v.astype(np.float32) for k, v in stems.items()}, meta)


@pytest.fixture
def labelled_songs() -> list[EvalSong]:
    """Ten songs: five keys x two tempi."""
    return [
        labelled_song(f"song{i}", (i * 7) % 12, "major" if i % 3 else "minor", 90.0 if i % 2 else 120.0)
        for i in range(10)
    ]


@pytest.fixture
def eval_songs() -> list[EvalSong]:
    rng = np.random.default_rng(1)
    return [EvalSong(f"s{i}", synth_stems(rng, 3.0)) for i in range(3)]


@pytest.fixture
def song_dir(tmp_path: Path) -> Path:
    """Five song folders of 3 s stems (flac) with metadata.json, as the synth engine writes them."""
    root = tmp_path / "songs"
    for song in (labelled_song(f"song{i}", i * 2, "major", 100.0 + i, 3.0) for i in range(5)):
        folder = root / song.song_id
        folder.mkdir(parents=True)
        for name, wave in song.stems.items():
            sf.write(folder / f"{name}.flac", wave, SR)
        (folder / "metadata.json").write_text(json.dumps(song.metadata))
    return root
