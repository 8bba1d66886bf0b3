"""Held-out splits: a seeded shuffle of the songs into two folders of links, the same on every rerun."""

import random
from pathlib import Path

import pytest

from model.split import song_entries, split_songs


def test_the_split_is_seeded_disjoint_and_rerunnable(tmp_path: Path) -> None:
    source = tmp_path / "songs"
    source.mkdir()
    for i in range(7):
        (source / f"Artist - Song {i}.stem.mp4").write_bytes(b"x")
    (source / "folder song").mkdir()
    (source / "notes.txt").write_text("not a song")
    fit, holdout = tmp_path / "fit", tmp_path / "holdout"
    assert split_songs(source, fit, holdout, holdout_songs=3, seed=2024) == (5, 3)
    songs = song_entries(source.resolve())
    random.Random(2024).shuffle(songs)
    assert sorted(p.name for p in holdout.iterdir()) == sorted(p.name for p in songs[:3])
    assert {p.name for p in fit.iterdir()} | {p.name for p in holdout.iterdir()} == {p.name for p in songs}
    assert all(p.is_symlink() and p.resolve().parent == source.resolve() for p in fit.iterdir())
    assert split_songs(source, fit, holdout, holdout_songs=3, seed=2024) == (5, 3)  # a rerun changes nothing
    with pytest.raises(ValueError, match="none to fit"):
        split_songs(source, tmp_path / "f", tmp_path / "h", holdout_songs=8)
