"""Commands of the model package: `stemjepa train`, `stats`, `preprocess`, `export`, `split`."""

import json
from pathlib import Path
from typing import Annotated

import typer

from model.cache import build_cache
from model.config import load_run_config
from model.instruments import InstrumentVocabulary

DataOpt = Annotated[list[Path], typer.Option("--data", help="Multitrack folder, .stem.mp4 or manifest; repeatable.")]
CacheOpt = Annotated[Path, typer.Option(help="Decoded-song cache folder.")]


# `stemjepa train ARGS` hands ARGS to model.train's own parser (--help included): one definition of the
# options for both entry points, so `python model/train.py` and `stemjepa train` cannot drift apart.
TRAIN_CONTEXT = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


def train(ctx: typer.Context) -> None:
    """Train Stem-JEPA: the options of `python model/train.py` (--config, --data, --out, --steps, --stop-at,
    --resume, --init, --validate, --monitor, --stats, --cache-dir, --device, --set); --help lists them."""
    from model.train import main

    main(list(ctx.args), prog="stemjepa train")


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


def split(
    source: Annotated[Path, typer.Argument(help="Multitrack folder (.stem.mp4 files or song folders).")],
    fit: Annotated[Path, typer.Option(help="Folder of links to the songs to fit on.")],
    holdout: Annotated[Path, typer.Option(help="Folder of links to the held-out songs.")],
    holdout_songs: Annotated[int, typer.Option(min=1, help="Songs to hold out.")] = 10,
    seed: Annotated[int, typer.Option(help="Seed of the shuffle.")] = 2024,
) -> None:
    """Split a multitrack folder into fit and held-out song links by a seeded shuffle (reruns change nothing)."""
    from model.split import split_songs

    n_fit, n_holdout = split_songs(source, fit, holdout, holdout_songs, seed)
    typer.echo(f"{n_fit} songs to fit in {fit}, {n_holdout} held out in {holdout}")


def query_centres(
    data: Annotated[list[Path], typer.Option("--data", help="Training songs (never evaluation data); repeatable.")],
    checkpoint: Annotated[Path | None, typer.Option("--checkpoint", "-c", help="Checkpoint; default: the bundled one.")] = None,  # noqa: E501
) -> None:
    """Fit the per-instrument mean query directions of a checkpoint on training songs and write them beside it
    (`<checkpoint>.query-centres.npz`); the service's ranking discounts stems near them (hubs)."""
    from model.centring import fit_query_centres, save_query_centres
    from model.checkpoint import default_checkpoint_path, query_centres_path
    from model.embed import Embedder
    from model.multitrack import decode_song, discover
    from model.validate import query_pairs

    path = checkpoint or default_checkpoint_path()
    embedder = Embedder.from_checkpoint(path, device="cpu")
    songs = [(s.song_id, decode_song(s, embedder.sample_rate)) for root in data
             for s in discover(root, embedder.vocabulary).songs]
    pairs = query_pairs(songs)
    centres = fit_query_centres(embedder, pairs)
    out = query_centres_path(path)
    save_query_centres(out, centres, embedder.checkpoint_hash, ", ".join(str(d) for d in data))
    typer.echo(f"{out}: centres of {', '.join(sorted(centres))} from {len(pairs)} queries of {len(songs)} songs")


def predictor_units(
    data: Annotated[list[Path], typer.Option("--data", help="Training songs (never evaluation data); repeatable.")],
    checkpoint: Annotated[Path | None, typer.Option("--checkpoint", "-c", help="Checkpoint; default: the bundled one.")] = None,  # noqa: E501
) -> None:
    """Find which of a checkpoint's predictor units fire on training mixes and write them beside it
    (`<checkpoint>.predictor-units.npz`); queries then skip the units that never do (model.querypredictor)."""
    from model.centring import fit_predictor_units
    from model.checkpoint import default_checkpoint_path
    from model.embed import Embedder
    from model.multitrack import decode_song, discover
    from model.querypredictor import units_path
    from model.validate import query_pairs

    path = checkpoint or default_checkpoint_path()
    embedder = Embedder.from_checkpoint(path, device="cpu")
    songs = [(s.song_id, decode_song(s, embedder.sample_rate)) for root in data
             for s in discover(root, embedder.vocabulary).songs]
    pairs = query_pairs(songs)
    units = fit_predictor_units(embedder, pairs, ", ".join(str(d) for d in data))
    out = units_path(path)
    units.save(out)
    widths = {name: [len(k) for k in units.kept(name)] for name in sorted(units.maxima)}
    typer.echo(f"{out}: from {len(pairs)} queries of {len(songs)} songs; hidden widths kept {widths}")
