"""Tests of MMA accompaniments."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from synth.groove import GROOVES, mma_arrangement


@pytest.mark.skipif(shutil.which("mma") is None, reason="needs mma (Debian package mma)")
def test_mma_plays_a_chart_with_a_composed_melody(tmp_path: Path) -> None:
    song = mma_arrangement(np.random.default_rng(1), 8.0, tmp_path)
    assert song.music["groove"] and len(song.music["chords"]) >= 3
    for stem in ("bass", "drums", "vocals", "other"):
        assert sum(len(p.notes) for p in song.parts[stem]) > 2, stem
    assert all(p.is_drum for p in song.parts["drums"])


def test_grooves_cover_most_styles() -> None:
    assert len(GROOVES) >= 10 and all(GROOVES.values())


@pytest.mark.skipif(shutil.which("mma") is None, reason="needs mma (Debian package mma)")
def test_the_same_seed_gives_the_same_mma_arrangement(tmp_path: Path) -> None:
    """MMA humanises with its own random numbers; the chart's RndSeed must pin them to the song's seed."""
    (tmp_path / "0").mkdir()
    (tmp_path / "1").mkdir()
    songs = [mma_arrangement(np.random.default_rng(0), 8.0, tmp_path / str(i)) for i in range(2)]
    for stem in ("bass", "drums", "other"):
        assert [p.notes for p in songs[0].parts[stem]] == [p.notes for p in songs[1].parts[stem]], stem
