"""Commands of the model package: `stemjepa train`, `stemjepa stats`, `stemjepa preprocess`."""

import json
from pathlib import Path
from typing import Annotated

import typer

from model.cache import build_cache
from model.config import load_run_config
from model.instruments import InstrumentVocabulary

DataOpt = Annotated[list[Path], typer.Option("--data", help="Multitrack folder, .stem.mp4 or manifest; repeatable.")]
CacheOpt = Annotated[Path, typer.Option(help="Decoded-song cache folder.")]


def train(
    out: Annotated[Path, typer.Option(help="Run folder (checkpoints, config, metrics).")],
    data: DataOpt = [],  # noqa: B006 (typer reads the default, never mutates it)
    config: Annotated[Path | None, typer.Option(help="Run YAML, e.g. configs/train/small.yaml.")] = None,
    steps: Annotated[int | None, typer.Option(help="Schedule length in steps.")] = None,
    stop_at: Annotated[int | None, typer.Option(help="Stop at this step, keeping the schedule.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue from OUT/checkpoint.pt.")] = False,
    validate: Annotated[Path | None, typer.Option(help="Held-out multitrack folder; its R@1 picks best.pt.")] = None,
    monitor: Annotated[list[Path], typer.Option(help="Held-out folders logged, never used to choose.")] = [],  # noqa: B006
    stats: Annotated[Path | None, typer.Option(help="Statistics JSON from `stemjepa stats`.")] = None,
    cache_dir: CacheOpt = Path(".cache/stemjepa"),
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    set_: Annotated[list[str], typer.Option("--set", help="Config override key.path=value.")] = [],  # noqa: B006
) -> None:
    """Train Stem-JEPA (same as `python model/train.py`)."""
    from model.train import run_training

    run_training(config, data, out, steps, resume, validate, stats, cache_dir, device, set_, stop_at, monitor)


def stats(
    data: DataOpt,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the statistics JSON.")],
    config: Annotated[Path | None, typer.Option(help="Run YAML (front end settings).")] = None,
    chunks: Annotated[int, typer.Option(help="Random context/target chunks to measure.")] = 512,
    cache_dir: CacheOpt = Path(".cache/stemjepa"),
) -> None:
    """Compute the log-mel normalisation statistics of a training set (stored in checkpoints)."""
    from model.dataset import PairDataset
    from model.train import compute_stats

    run = load_run_config(config)
    songs = build_cache(data, cache_dir, InstrumentVocabulary.from_names(run.model.instruments),
                        run.model.audio.sample_rate)
    dataset = PairDataset(songs, run.model.audio.chunk_samples, run.train.seed, run.train.silence_dbfs)
    result = compute_stats(dataset, chunks, run)
    output.write_text(json.dumps(result.to_dict(), indent=2))
    typer.echo(f"mean {result.mean:.4f}  std {result.std:.4f}  -> {output}")


def preprocess(
    data: DataOpt,
    cache_dir: CacheOpt = Path(".cache/stemjepa"),
    config: Annotated[Path | None, typer.Option(help="Run YAML (instrument vocabulary, sample rate).")] = None,
) -> None:
    """Decode multitrack songs once into the 16 kHz training cache."""
    run = load_run_config(config)
    songs = build_cache(data, cache_dir, InstrumentVocabulary.from_names(run.model.instruments),
                        run.model.audio.sample_rate)
    typer.echo(f"{len(songs)} songs cached in {cache_dir}")
