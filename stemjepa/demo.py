"""`stemjepa demo`, the embedded default: a small synthetic catalogue (synth), migrated and indexed with the
bundled checkpoint (indexer: SQLite + faiss-cpu), then served on localhost (service). The composition root
assembles it, so the web package needs neither the song generator nor the indexer's write side."""

import hashlib
import logging
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from indexer.build import IndexOptions, IndexReport, build_index
from indexer.db import upgrade
from indexer.errors import IndexMismatchError
from indexer.settings import IndexerSettings
from model.checkpoint import default_checkpoint_path, load_checkpoint
from model.errors import CheckpointError
from model.threads import limit_threads
from service.app import STATIC_DIR
from service.cli import run_server
from service.settings import ServiceSettings, load_settings
from synth.cli import synth

log = logging.getLogger(__name__)
console = Console()

DEMO_DIR = Path("stemjepa-data")
DEMO_SEED = 0
# 15 s of song 0 of `stemjepa synth OUT --songs 1 --seed 2027 --duration 15 --sample-rate 22050` (a country
# song in E major at 108 BPM, not in the demo catalogue) without its bass: `stemjepa synth-mix ... --without bass`.
SAMPLE_MIX = STATIC_DIR / "sample-mix.flac"


def describe_checkpoint(path: Path | None) -> str:
    """One plain sentence on which checkpoint the demo uses and what it is."""
    chosen = Path(path) if path is not None else default_checkpoint_path()
    if not chosen.is_file():
        raise CheckpointError(
            f"checkpoint {chosen} does not exist; train one (`stemjepa train`) or pass --checkpoint"
        )
    ckpt = load_checkpoint(chosen)
    name = ckpt.get("run_config", {}).get("model", {}).get("name", "?")
    step = ckpt.get("step", "?")
    metrics = ckpt.get("metrics") or {}
    shown = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in list(metrics.items())[:4])
    what = ("the bundled checkpoint, the best one available in this repository" if path is None
            else "the checkpoint given with --checkpoint")
    return (f"Model: {chosen} — {what} (model '{name}', trained {step} steps"
            + (f"; {shown}" if shown else "") + ").")


def _generate(folder: Path, songs: int, seconds: float, console: Console) -> None:
    done = len([p for p in folder.glob("*/metadata.json")]) if folder.is_dir() else 0
    if done >= songs:
        console.print(f"Catalogue: {done} synthetic songs in {folder} (already generated).")
        return
    console.print(f"Catalogue: generating {songs} synthetic songs of {seconds:g} s into {folder} …")
    synth(out=folder, songs=songs, seed=DEMO_SEED, workers=2, duration=seconds, sample_rate=44100)


def index_catalogue(settings: ServiceSettings, catalogue: Path, workers: int | None = None) -> IndexReport:
    """Indexes `catalogue` into the service's index and database (migrated first: this is the set-up step),
    incrementally; rebuilds when the existing index belongs to another checkpoint."""
    upgrade(settings.database_url)
    indexer = IndexerSettings.over(settings, workers=workers)
    try:
        return build_index(catalogue, indexer)
    except IndexMismatchError as exc:
        log.info("%s; rebuilding the demo index", exc)
        return build_index(catalogue, indexer, options=IndexOptions(rebuild=True))


def prepare_demo(data_dir: Path, catalogue: Path | None, songs: int, seconds: float, checkpoint: Path | None,
                 console: Console) -> ServiceSettings:
    """Makes sure the demo catalogue exists and is indexed by `checkpoint`; returns the settings to serve it."""
    if catalogue is None:
        catalogue = data_dir / "demo-catalogue"
        _generate(catalogue, songs, seconds, console)
        index_dir, database = data_dir / "demo-index", data_dir / "demo.sqlite"
    elif not catalogue.exists():
        raise FileNotFoundError(f"catalogue {catalogue} does not exist")
    else:  # its own index and database, so the page serves that catalogue alone
        name = f"catalogue-{hashlib.sha1(str(catalogue.resolve()).encode()).hexdigest()[:10]}"
        index_dir, database = data_dir / name / "index", data_dir / name / "catalogue.sqlite"
    settings = load_settings(index_dir=index_dir, db_url=f"sqlite:///{database.resolve()}",
                             checkpoint=checkpoint, cache_dir=data_dir / "cache", device="auto")
    limit_threads(settings.threads)
    started = time.perf_counter()
    console.print(f"Index: embedding {catalogue} into {settings.index_dir} (SQLite {database}, faiss-cpu) …")
    report = index_catalogue(settings, catalogue)
    console.print(f"Index: {report.indexed_total} stems ready ({report.added} new, "
                  f"{report.skipped} unchanged) in {time.perf_counter() - started:.1f} s.")
    return settings


def demo(
    catalogue: Annotated[Path | None, typer.Option(help="Folder of songs to index and serve instead of generated ones "
                                                 "(its own index and database under --data-dir).")] = None,
    songs: Annotated[int, typer.Option(min=1, help="Synthetic songs to generate when no catalogue is given.")] = 24,
    seconds: Annotated[float, typer.Option(min=4.0, help="Length of each synthetic song (s).")] = 20.0,
    checkpoint: Annotated[Path | None, typer.Option(help="Checkpoint (default: the bundled one).")] = None,
    data_dir: Annotated[Path, typer.Option(help="Where the demo keeps catalogue, index and database.")] = DEMO_DIR,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    prepare_only: Annotated[bool, typer.Option(help="Prepare catalogue and index, then exit without serving.")] = False,
) -> None:
    """The embedded default: generate a small catalogue, index it with the bundled checkpoint, serve on localhost."""
    console.print(describe_checkpoint(checkpoint))
    settings = prepare_demo(data_dir, catalogue, songs, seconds, checkpoint, console)
    if prepare_only:
        return
    settings = settings.model_copy(update={"host": host, "port": port})
    console.print(f"\n[bold green]Stem Finder is up:[/] open [bold]http://{host}:{port}/[/]   (Ctrl+C stops it)")
    console.print(f"Try: curl -F file=@{SAMPLE_MIX} -F instrument=bass http://{host}:{port}/retrieve\n")
    run_server(settings)
