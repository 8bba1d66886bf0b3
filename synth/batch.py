"""Writing a corpus of songs: parallel over worker processes, resumable, each song renamed into place."""

import json
import logging
import multiprocessing
import shutil
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path

from synth.song import METADATA, SongSettings, make_song
from synth.soundfont import installed_soundfonts

logger = logging.getLogger(__name__)

MANIFEST = "synth.json"
_TMP_PREFIX = ".tmp-"


class CorpusMismatchError(ValueError):
    """The output folder holds a corpus made with other settings, which a resumed run must not mix in."""


def song_name(index: int) -> str:
    return f"song_{index:05d}"


def _check_manifest(out: Path, seed: int, settings: SongSettings) -> None:
    manifest = {"seed": seed, **asdict(settings)}
    path = out / MANIFEST
    if path.is_file():
        found = json.loads(path.read_text())
        if found != manifest:
            raise CorpusMismatchError(f"{out} was made with {found}, not {manifest}; choose another folder")
    else:
        path.write_text(json.dumps(manifest, indent=2, sort_keys=True))


def _write_one(job: tuple[int, int, SongSettings, Path]) -> int:
    index, seed, settings, out = job
    # Written under a hidden name and renamed when complete: a folder with the song's name is always whole.
    tmp = out / f"{_TMP_PREFIX}{song_name(index)}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    make_song(index, seed, settings, tmp)
    tmp.rename(out / song_name(index))
    return index


def pending_songs(out: Path, songs: int) -> list[int]:
    """Indices of songs not yet complete under out."""
    return [i for i in range(songs) if not (out / song_name(i) / METADATA).is_file()]


def write_corpus(
    out: Path,
    songs: int,
    seed: int,
    settings: SongSettings,
    workers: int = 1,
    on_song: Callable[[int], None] | None = None,
) -> list[int]:
    """Write songs song_00000 .. song_{songs-1} under out, skipping those already complete.

    Args:
        on_song: called with each finished song's index, in completion order.

    Returns:
        The indices written by this call.
    """
    if songs < 0 or workers < 1 or seed < 0:
        raise ValueError("songs and seed must be >= 0 and workers >= 1")
    out.mkdir(parents=True, exist_ok=True)
    _check_manifest(out, seed, settings)
    for stale in out.glob(f"{_TMP_PREFIX}*"):
        shutil.rmtree(stale)  # left by an interrupted run; the song is redone from its seed
    todo = pending_songs(out, songs)
    if todo:
        installed_soundfonts()  # decodes SF3 fonts here, once, rather than in every worker at the same time
    logger.info("%d of %d songs to write into %s with %d workers", len(todo), songs, out, workers)
    jobs = [(i, seed, settings, out) for i in todo]
    done: list[int] = []
    results: Iterator[int]
    if workers == 1:
        results = map(_write_one, jobs)
        for index in results:
            done.append(index)
            if on_song:
                on_song(index)
        return done
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        for index in pool.imap_unordered(_write_one, jobs):
            done.append(index)
            if on_song:
                on_song(index)
    return done
