"""Writing a corpus of songs: parallel over worker processes, resumable, each song renamed into place."""

import json
import logging
import multiprocessing
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

from synth.sets import check_seed
from synth.siblings import SiblingCorpus, make_member
from synth.song import METADATA, SongSettings, make_song
from synth.soundfont import installed_soundfonts

logger = logging.getLogger(__name__)

MANIFEST = "synth.json"
_TMP_PREFIX = ".tmp-"
_MAX_SEED = 2**32 - 1  # one entropy word: an ordinary song's stream is exactly (seed, index)

JobKey = TypeVar("JobKey", int, str)
# (key reported to the caller, folder name, function writing the song into a folder, its leading arguments)
Job = tuple[JobKey, str, Callable[..., Any], tuple[Any, ...], Path]


class CorpusMismatchError(ValueError):
    """The output folder holds a corpus made with other settings, which a resumed run must not mix in."""


class CorpusIncompleteError(RuntimeError):
    """Some songs failed; every other song of the run was written (`written`), and a re-run tries only the
    failed ones again."""

    def __init__(self, failures: Sequence[str], written: int) -> None:
        super().__init__(f"{len(failures)} song(s) failed, {written} written: " + "; ".join(failures))
        self.failures, self.written = list(failures), written


def song_name(index: int) -> str:
    return f"song_{index:05d}"


def _check_manifest(out: Path, manifest: dict[str, Any]) -> None:
    path = out / MANIFEST
    if path.is_file():
        found = json.loads(path.read_text())
        if found != manifest:
            raise CorpusMismatchError(f"{out} was made with {found}, not {manifest}; choose another folder")
    else:
        path.write_text(json.dumps(manifest, indent=2, sort_keys=True))


def _write_one(job: Job[JobKey]) -> tuple[JobKey, str | None]:
    """Writes one song; returns its key and, if it failed, why (one song's failure must not cost the others)."""
    key, name, make, args, out = job
    # Written under a hidden name and renamed when complete: a folder with the song's name is always whole.
    tmp = out / f"{_TMP_PREFIX}{name}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        make(*args, tmp)
    except Exception as error:  # an interrupt (BaseException) still stops the run
        shutil.rmtree(tmp, ignore_errors=True)
        logger.error("%s failed: %s: %s", name, type(error).__name__, error)
        return key, f"{name}: {type(error).__name__}: {error}"
    tmp.rename(out / name)
    return key, None


def _is_complete(out: Path, name: str) -> bool:
    return (out / name / METADATA).is_file()


def _run(
    out: Path,
    manifest: dict[str, Any],
    jobs: Sequence[Job[JobKey]],
    workers: int,
    on_song: Callable[[JobKey], None] | None,
) -> list[JobKey]:
    """Run the jobs whose song is not complete yet, in worker processes; returns their keys in completion order.

    Raises:
        CorpusIncompleteError: after every other job ran, when some songs failed.
    """
    if workers < 1:
        raise ValueError("workers must be >= 1")
    out.mkdir(parents=True, exist_ok=True)
    _check_manifest(out, manifest)
    for stale in out.glob(f"{_TMP_PREFIX}*"):
        shutil.rmtree(stale)  # left by an interrupted run; the song is redone from its seed
    todo = [job for job in jobs if not _is_complete(out, job[1])]
    if todo:
        installed_soundfonts()  # decodes SF3 fonts here, once, rather than in every worker at the same time
    logger.info("%d of %d songs to write into %s with %d workers", len(todo), len(jobs), out, workers)
    done: list[JobKey] = []
    failures: list[str] = []

    def collect(results: Iterator[tuple[JobKey, str | None]]) -> None:
        for key, failure in results:
            if failure is not None:
                failures.append(failure)
                continue
            done.append(key)
            if on_song:
                on_song(key)

    if workers == 1:
        collect(map(_write_one, todo))
    else:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            collect(pool.imap_unordered(_write_one, todo))
    if failures:
        raise CorpusIncompleteError(failures, len(done))
    return done


def pending_songs(out: Path, songs: int) -> list[int]:
    """Indices of songs not yet complete under out."""
    return [i for i in range(songs) if not _is_complete(out, song_name(i))]


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

    Raises:
        ReservedSeedError: seed belongs to a fixed set (synth.sets), which only its sibling set may use.
        CorpusIncompleteError: some songs failed (after every other song was written).
    """
    if songs < 0 or not 0 <= seed <= _MAX_SEED:
        raise ValueError(f"songs must be >= 0 and seed within 0..{_MAX_SEED}")
    check_seed(seed, None)
    jobs: list[Job[int]] = [(i, song_name(i), make_song, (i, seed, settings), out) for i in range(songs)]
    return _run(out, {"seed": seed, **asdict(settings)}, jobs, workers, on_song)


def pending_members(out: Path, corpus: SiblingCorpus) -> list[str]:
    """Names of the corpus's songs not yet complete under out."""
    return [m.name for m in corpus.members() if not _is_complete(out, m.name)]


def write_siblings(
    out: Path,
    corpus: SiblingCorpus,
    settings: SongSettings,
    workers: int = 1,
    on_song: Callable[[str], None] | None = None,
) -> list[str]:
    """Write the corpus's groups (group_00000_sib1, ..., group_00000_var1, ...) under out, skipping complete songs.

    Only settings.duration and settings.sample_rate matter: sibling songs are procedural.

    Returns:
        The folder names written by this call.

    Raises:
        CorpusIncompleteError: some songs failed (after every other song was written).
    """
    manifest = {
        "kind": "siblings",
        **asdict(corpus),
        "duration": settings.duration,
        "sample_rate": settings.sample_rate,
    }
    jobs: list[Job[str]] = [
        (m.name, m.name, make_member, (corpus, m, settings), out) for m in corpus.members()
    ]
    return _run(out, manifest, jobs, workers, on_song)
