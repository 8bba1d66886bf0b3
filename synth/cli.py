"""Command-line entry points: `synth` writes a corpus of songs, `synth_plot` draws one song's stems."""

import logging
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from synth.batch import pending_songs, write_corpus
from synth.plot import plot_song
from synth.song import SongSettings

logger = logging.getLogger(__name__)


def synth(
    out: Annotated[Path, typer.Argument(help="Folder to write song_00000, song_00001, ... into.")],
    songs: Annotated[int, typer.Option(min=0, help="Number of songs.")] = 20,
    seed: Annotated[int, typer.Option(min=0, help="Seed: the same seed gives the same files.")] = 0,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    duration: Annotated[float, typer.Option(min=1.0, help="Seconds per song.")] = 30.0,
    sample_rate: Annotated[int, typer.Option(min=8000, max=96000, help="Hz of the written audio.")] = 44100,
) -> None:
    """Render synthetic multitrack songs (bass, drums, vocals, other and mixture FLACs plus metadata.json).

    An interrupted run resumes: complete songs are kept, the rest are rendered.
    """
    settings = SongSettings(duration=duration, sample_rate=sample_rate)
    todo = len(pending_songs(out, songs)) if out.is_dir() else songs
    start = time.perf_counter()
    columns = (TextColumn("synth"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns) as progress:
        task = progress.add_task("songs", total=todo)
        written = write_corpus(out, songs, seed, settings, workers, on_song=lambda _: progress.advance(task))
    elapsed = time.perf_counter() - start
    audio = len(written) * duration
    logger.info(
        "wrote %d songs (%.0f s of audio per stem) in %.1f s: %.1fx real time",
        len(written),
        audio,
        elapsed,
        audio / max(elapsed, 1e-9),
    )


def synth_plot(
    song_dir: Annotated[Path, typer.Argument(help="A song folder written by synth.")],
    out_png: Annotated[Path, typer.Argument(help="PNG file to write.")],
) -> None:
    """Save log-mel images of one song's four stems as one PNG."""
    plot_song(song_dir, out_png)
