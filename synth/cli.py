"""Command-line entry points: `synth` writes a corpus of songs or sibling groups, `synth_plot` draws a song,
`synth_mix` writes the mix of a song without one stem (a query)."""

import logging
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from synth.batch import CorpusIncompleteError, pending_members, pending_songs, write_corpus, write_siblings
from synth.plot import plot_song
from synth.sets import FIXED_SETS, ReservedSeedError, check_seed
from synth.siblings import SiblingCorpus
from synth.song import SongSettings

logger = logging.getLogger(__name__)


def _check_set_alone(**given: tuple[object, object]) -> None:
    changed = [name for name, (value, default) in given.items() if value != default]
    if changed:
        raise typer.BadParameter(f"--set fixes every corpus option; leave out {', '.join(changed)}")


def synth(
    out: Annotated[Path, typer.Argument(help="Folder to write song_00000, ... (or group_00000_sib1, ...) into.")],
    songs: Annotated[int, typer.Option(min=0, help="Number of songs (independent songs only).")] = 20,
    seed: Annotated[int, typer.Option(min=0, help="Seed: the same seed gives the same files.")] = 0,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    duration: Annotated[float, typer.Option(min=1.0, help="Seconds per song.")] = 30.0,
    sample_rate: Annotated[int, typer.Option(min=8000, max=96000, help="Hz of the written audio.")] = 44100,
    siblings: Annotated[
        int, typer.Option(min=0, help="Songs per group sharing one plan (key, tempo, meter, chords); 0: none.")
    ] = 0,
    groups: Annotated[int, typer.Option(min=0, help="Sibling groups (with --siblings).")] = 10,
    variants: Annotated[
        int, typer.Option(min=0, help="Per group, songs of the plan transposed or at another tempo (with --siblings).")
    ] = 2,
    fixed_set: Annotated[
        str | None,
        typer.Option("--set", help=f"Render a fixed sibling set exactly: {', '.join(FIXED_SETS)} (synth/sets.py)."),
    ] = None,
) -> None:
    """Render synthetic multitrack songs (bass, drums, vocals, other and mixture FLACs plus metadata.json).

    With --siblings K: groups of K songs sharing one plan, arranged and rendered independently, plus
    --variants songs per group with the plan transposed or at another tempo. An interrupted run resumes:
    complete songs are kept, the rest are rendered. A song that fails costs only itself: the others are
    written, the failed ones named at the end (exit status 1), and a re-run tries only them.
    """
    if fixed_set is not None:
        if fixed_set not in FIXED_SETS:
            raise typer.BadParameter(f"unknown set {fixed_set!r}; choose from {', '.join(FIXED_SETS)}")
        _check_set_alone(
            songs=(songs, 20), seed=(seed, 0), duration=(duration, 30.0), sample_rate=(sample_rate, 44100),
            siblings=(siblings, 0), groups=(groups, 10), variants=(variants, 2),
        )
        spec = FIXED_SETS[fixed_set]
        seed, siblings, groups, variants = spec.seed, spec.siblings, spec.groups, spec.variants
        duration, sample_rate = spec.duration, spec.sample_rate
    settings = SongSettings(duration=duration, sample_rate=sample_rate)
    try:
        corpus = SiblingCorpus(seed, groups, siblings, variants, fixed_set) if siblings else None
        if corpus is None:
            check_seed(seed, None)
    except ReservedSeedError as error:
        raise typer.BadParameter(str(error)) from error
    if corpus is not None:
        todo = len(pending_members(out, corpus)) if out.is_dir() else len(corpus.members())
    else:
        todo = len(pending_songs(out, songs)) if out.is_dir() else songs
    start = time.perf_counter()
    columns = (TextColumn("synth"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    failed: CorpusIncompleteError | None = None
    with Progress(*columns) as progress:
        task = progress.add_task("songs", total=todo)
        try:
            if corpus is not None:
                written = len(write_siblings(out, corpus, settings, workers, on_song=lambda _: progress.advance(task)))
            else:
                written = len(write_corpus(out, songs, seed, settings, workers,
                                           on_song=lambda _: progress.advance(task)))
        except CorpusIncompleteError as error:
            failed, written = error, error.written
    elapsed = time.perf_counter() - start
    audio = written * duration
    speed = audio / max(elapsed, 1e-9)
    logger.info(
        "wrote %d songs (%.0f s of audio) in %.1f s: %.2f audio seconds per wall second, %.2f per worker (%d)",
        written,
        audio,
        elapsed,
        speed,
        speed / workers,
        workers,
    )
    if failed is not None:
        typer.echo(f"error: {failed}", err=True)
        raise typer.Exit(1)


def synth_plot(
    song_dir: Annotated[Path, typer.Argument(help="A song folder written by synth.")],
    out_png: Annotated[Path, typer.Argument(help="PNG file to write.")],
) -> None:
    """Save log-mel images of one song's four stems as one PNG."""
    plot_song(song_dir, out_png)


def synth_mix(
    song_dir: Annotated[Path, typer.Argument(help="A song folder written by synth.")],
    out: Annotated[Path, typer.Argument(help="Audio file to write (.flac or .wav).")],
    without: Annotated[str, typer.Option(help="The stem to leave out: the instrument a query would ask for.")] = "bass",
    sample_rate: Annotated[int | None, typer.Option(help="Hz of the written file (default: the song's).")] = None,
) -> None:
    """Write the mono mix of a song's stems but one: a query for the missing instrument."""
    from synth.song import mix_without

    seconds = mix_without(song_dir, without, out, sample_rate)
    typer.echo(f"wrote {out}: {seconds:.1f} s, the mix of {song_dir.name} without its {without}")
