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
