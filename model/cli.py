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


def export(
    src: Annotated[Path, typer.Argument(help="Training checkpoint (e.g. runs/NAME/best.pt).")],
    dst: Annotated[Path, typer.Argument(help="Inference checkpoint to write.")],
    full_precision: Annotated[bool, typer.Option(help="Keep float32 weights.")] = False,
    centre_data: Annotated[list[Path], typer.Option("--centre-data", help="Training data for the frame centres; repeatable.")] = [],  # noqa: B006,E501
    centre_chunks: Annotated[int, typer.Option(help="Training chunks for the frame centres.")] = 256,
    cache_dir: CacheOpt = Path(".cache/stemjepa"),
) -> None:
    """Write an inference-only checkpoint (no optimiser state, float16 weights) for shipping; with
    --centre-data, fit the positional frame centres used by alignment on that (training) data first."""
    from model.centring import fit_frame_centres
    from model.checkpoint import build_model, export_inference, load_checkpoint, run_config_of
    from model.dataset import PairDataset
    from model.embed import Embedder
    from model.files import file_sha256

    model, extra = None, {}
    if centre_data:
        ckpt = load_checkpoint(src)
        run = run_config_of(ckpt)
        songs = build_cache(centre_data, cache_dir, InstrumentVocabulary.from_names(run.model.instruments),
                            run.model.audio.sample_rate)
        dataset = PairDataset(songs, run.model.audio.chunk_samples, run.train.seed, run.train.silence_dbfs)
        embedder = Embedder(build_model(ckpt), "cpu")
        counts = fit_frame_centres(embedder, dataset, centre_chunks)
        model = embedder.model
        extra = {"frame_centres": {"data": [str(d) for d in centre_data], "counts": counts}}
        typer.echo(f"frame centres fitted on {counts}")
    ckpt = export_inference(src, dst, half=not full_precision, model=model, extra=extra)
    typer.echo(f"{dst}: {dst.stat().st_size / 1e6:.1f} MB, step {ckpt['step']}, sha256 {file_sha256(dst)[:16]}")


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
