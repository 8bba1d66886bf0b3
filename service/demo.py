"""The demo's preparation: a small synthetic catalogue, indexed with the bundled checkpoint, SQLite + faiss-cpu."""

import logging
import time
from pathlib import Path

from rich.console import Console

from model.checkpoint import default_checkpoint_path, load_checkpoint
from model.errors import CheckpointError
from service.settings import ServiceSettings, load_settings

log = logging.getLogger(__name__)

DEMO_SEED = 0


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
    from synth.cli import synth

    done = len([p for p in folder.glob("*/metadata.json")]) if folder.is_dir() else 0
    if done >= songs:
        console.print(f"Catalogue: {done} synthetic songs in {folder} (already generated).")
        return
    console.print(f"Catalogue: generating {songs} synthetic songs of {seconds:g} s into {folder} …")
    synth(out=folder, songs=songs, seed=DEMO_SEED, workers=2, duration=seconds, sample_rate=44100)


def prepare_demo(data_dir: Path, catalogue: Path | None, songs: int, seconds: float, checkpoint: Path | None,
                 console: Console) -> ServiceSettings:
    """Makes sure the demo catalogue exists and is indexed by `checkpoint`; returns the settings to serve it."""
    from service.indexing import run_indexer

    if catalogue is None:
        catalogue = data_dir / "demo-catalogue"
        _generate(catalogue, songs, seconds, console)
    elif not catalogue.exists():
        raise FileNotFoundError(f"catalogue {catalogue} does not exist")
    database = data_dir / "demo.sqlite"
    settings = load_settings(index_dir=data_dir / "demo-index", db_url=f"sqlite:///{database.resolve()}",
                             checkpoint=checkpoint, cache_dir=data_dir / "cache", device="auto")
    started = time.perf_counter()
    console.print(f"Index: embedding {catalogue} into {settings.index_dir} (SQLite {database}, faiss-cpu) …")
    report = _index_fresh(settings, catalogue, run_indexer)
    console.print(f"Index: {report['indexed_total']} stems ready ({report['added']} new, "
                  f"{report['skipped']} unchanged) in {time.perf_counter() - started:.1f} s.")
    return settings


def _index_fresh(settings: ServiceSettings, catalogue: Path, run_indexer: object) -> dict[str, object]:
    """Indexes incrementally; rebuilds when the existing index belongs to another checkpoint."""
    from indexer.errors import IndexMismatchError

    assert callable(run_indexer)
    try:
        result: dict[str, object] = run_indexer(settings, catalogue, False, lambda _: None)
    except IndexMismatchError as exc:
        log.info("%s; rebuilding the demo index", exc)
        result = run_indexer(settings, catalogue, True, lambda _: None)
    return result
