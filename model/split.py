"""Held-out splits of a multitrack folder: its songs shuffled by a seed into two folders of symbolic links, one
to fit on and one to choose checkpoints with (`stemjepa split`, used by scripts/train-shipped.sh)."""

import random
from pathlib import Path


def song_entries(source: Path) -> list[Path]:
    """The songs of a multitrack folder, sorted by name: its `.stem.mp4` files and its song folders."""
    return sorted(p for p in source.iterdir() if p.name.endswith(".stem.mp4") or p.is_dir())


def split_songs(source: Path, fit: Path, holdout: Path, holdout_songs: int = 10, seed: int = 2024) -> tuple[int, int]:
    """Links the songs of `source` into `holdout` (the first `holdout_songs` of a `random.Random(seed)`
    shuffle of the sorted songs) and `fit` (the rest); links already there are kept, so a rerun changes
    nothing. Returns (fit songs, holdout songs).

    Raises:
        ValueError: `source` has no more songs than `holdout_songs`.
    """
    source = source.resolve()
    songs = song_entries(source)
    if len(songs) <= holdout_songs:
        raise ValueError(f"{source} has {len(songs)} songs; holding out {holdout_songs} would leave none to fit")
    random.Random(seed).shuffle(songs)
    for folder in (fit, holdout):
        folder.mkdir(parents=True, exist_ok=True)
    for i, song in enumerate(songs):
        link = (holdout if i < holdout_songs else fit) / song.name
        if not link.is_symlink() and not link.exists():
            link.symlink_to(song)
    return len(songs) - holdout_songs, holdout_songs
