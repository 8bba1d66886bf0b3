"""Commands of the evaluation package: `stemjepa eval retrieval|compatibility|analysis|alignment|content`, `stemjepa
bench` and `stemjepa loadtest`."""

import logging
from pathlib import Path
from typing import Annotated

import typer

log = logging.getLogger(__name__)

eval_app = typer.Typer(help="Measure checkpoints with the paper's protocols, against baselines.", no_args_is_help=True)

DataArg = Annotated[Path, typer.Argument(help="Songs: a folder of .stem.mp4 files or song folders, or a manifest.")]
CheckpointOpt = Annotated[Path | None, typer.Option("--checkpoint", "-c", help="Checkpoint; default: the bundled one.")]
DeviceOpt = Annotated[str, typer.Option(help="auto, cpu or cuda.")]
LimitOpt = Annotated[int | None, typer.Option(help="Use only the first N songs.")]
CheckpointsOpt = Annotated[
    list[Path] | None,
    typer.Option("--checkpoint", "-c", help="Checkpoint; repeat to compare several side by side. Default: the "
                 "bundled one."),
]
BootstrapOpt = Annotated[int, typer.Option(help="Song-level bootstrap resamples for the 95 % intervals.")]
BaselinesOpt = Annotated[bool, typer.Option(help="Also score the random and mashability baselines.")]
MusicalOpt = Annotated[bool, typer.Option(help="Also score the features alone and fused with the model.")]


def _files(files: list[Path]) -> None:
    for f in files:
        typer.echo(f"  {f}")


@eval_app.command("retrieval")
def retrieval(
    data: DataArg,
    checkpoint: CheckpointsOpt = None,
    out: Annotated[Path, typer.Option(help="Folder for retrieval.json, retrieval.md and PNGs.")] = Path(
        "runs/eval/retrieval"
    ),
    device: DeviceOpt = "auto",
    limit: LimitOpt = None,
    bootstrap: BootstrapOpt = 1000,
    baselines: BaselinesOpt = True,
    musical: MusicalOpt = True,
    seed: int = 0,
) -> None:
    """Stem retrieval (paper 4.1): R@k, normalised ranks, protocols A/B, both reference encoders, failure analysis."""
    from evaluation.report import write_retrieval_report
    from evaluation.retrieval import evaluate_retrieval
    from evaluation.songs import load_songs

    songs = load_songs(data, limit=limit)
    report = evaluate_retrieval(
        songs, list(checkpoint) if checkpoint else [None], device, n_boot=bootstrap, seed=seed, baselines=baselines,
        musical=musical,
    )
    report["data"] = str(data)
    files = write_retrieval_report(report, out)
    typer.echo(files[1].read_text().split("\n## Failure analysis")[0])
    typer.echo(f"wrote {len(files)} files under {out} in {report['seconds']} s:")
    _files(files)


@eval_app.command("compatibility")
def compatibility(
    data: Annotated[Path, typer.Argument(help="A sibling corpus (`stemjepa synth OUT --siblings K` or `--set NAME`).")],
    checkpoint: CheckpointsOpt = None,
    out: Annotated[Path, typer.Option(help="Folder for compatibility.json, compatibility.md and PNGs.")] = Path(
        "runs/eval/compatibility"
    ),
    device: DeviceOpt = "auto",
    limit: LimitOpt = None,
    bootstrap: BootstrapOpt = 1000,
    baselines: BaselinesOpt = True,
    musical: MusicalOpt = True,
    seed: int = 0,
) -> None:
    """Cross-song compatibility: find the missing stem among other songs' stems (siblings and variants relevant)."""
    from evaluation.compatibility import run_compatibility
    from evaluation.report import write_compatibility_report
    from evaluation.songs import load_songs

    songs = load_songs(data, limit=limit)
    report = run_compatibility(
        songs, list(checkpoint) if checkpoint else [None], device, n_boot=bootstrap, seed=seed, baselines=baselines,
        musical=musical,
    )
    report["data"] = str(data)
    report["checkpoints"] = [str(c) for c in checkpoint] if checkpoint else ["bundled"]
    files = write_compatibility_report(report, out)
    typer.echo(files[1].read_text().split("\n## Per-instrument")[0])
    typer.echo(f"wrote {len(files)} files under {out} in {report['seconds']} s:")
    _files(files)


@eval_app.command("analysis")
def analysis(
    data: Annotated[Path, typer.Argument(help="Synthetic songs with known tempo and key (`stemjepa synth`).")],
    out: Annotated[Path, typer.Option(help="Folder for analysis.json and analysis.md.")] = Path("runs/eval/analysis"),
    limit: LimitOpt = None,
) -> None:
    """Tempo, key and meter accuracy of the music analysis for mixes and each stem type."""
    from evaluation.estimators import evaluate_estimators
    from evaluation.report import write_analysis_report
    from evaluation.songs import load_songs

    report = evaluate_estimators(load_songs(data, limit=limit))
    report["data"] = str(data)
    files = write_analysis_report(report, out)
    typer.echo(files[1].read_text())
    _files(files)


@eval_app.command("alignment")
def alignment(
    data: DataArg,
    checkpoint: CheckpointOpt = None,
    out: Annotated[Path, typer.Option(help="Folder for alignment.json, alignment.md and PNGs.")] = Path(
        "runs/eval/alignment"
    ),
    device: DeviceOpt = "auto",
    limit: LimitOpt = None,
    max_shift: Annotated[float, typer.Option(help="Largest shift scored (s), where the audio allows.")] = 32.0,
    trials: Annotated[int, typer.Option(help="Random known shifts per stem for the offset-recovery test.")] = 1,
    seed: int = 0,
) -> None:
    """Similarity of stem and predicted frames vs time shift (paper 4.3), and offset recovery."""
    from evaluation.alignment import evaluate_alignment
    from evaluation.report import write_alignment_report
    from evaluation.songs import load_songs
    from model.embed import Embedder

    embedder = Embedder.from_checkpoint(checkpoint, device=device)
    report = evaluate_alignment(embedder, load_songs(data, limit=limit), max_shift, trials=trials, seed=seed)
    report["data"], report["checkpoint"] = str(data), str(checkpoint or "bundled")
    files = write_alignment_report(report, out)
    typer.echo(files[1].read_text())
    _files(files)


@eval_app.command("content")
def content(
    data: DataArg,
    checkpoint: CheckpointOpt = None,
    out: Annotated[Path, typer.Option(help="Folder for content.json and content.md.")] = Path("runs/eval/content"),
    device: DeviceOpt = "auto",
    limit: LimitOpt = None,
    folds: Annotated[int, typer.Option(help="Song-grouped cross-validation folds of the probes.")] = 5,
    seed: int = 0,
) -> None:
    """Key and tempo probes and cross-song key/tempo compatibility, on labelled synthetic songs (`stemjepa synth`)."""
    from evaluation.content import evaluate_content
    from evaluation.report import write_content_report
    from evaluation.songs import load_songs
    from model.embed import Embedder

    embedder = Embedder.from_checkpoint(checkpoint, device=device)
    report = evaluate_content(embedder, load_songs(data, limit=limit), folds, seed)
    report["data"], report["checkpoint"] = str(data), str(checkpoint or "bundled")
    files = write_content_report(report, out)
    typer.echo(files[1].read_text())
    _files(files)


@eval_app.command("card")
def card(
    eval_dir: Annotated[Path, typer.Argument(help="Output of `stemjepa eval retrieval` on the shipped checkpoint.")],
    checkpoint: Annotated[Path | None, typer.Option("--checkpoint", "-c", help="The shipped checkpoint.")] = None,
    docs: Annotated[Path, typer.Option(help="Folder of the card's images.")] = Path("docs/model-card"),
    figures: Annotated[Path | None, typer.Option(help="JSON of the card's figures; default: beside it.")] = None,
    runs: Annotated[Path | None, typer.Option(help="Folder of the recipe's training runs: draws their curves.")] = None,
) -> None:
    """The model card's figures of a shipped checkpoint: curves, plots and the JSON that CI re-checks."""
    import json

    from evaluation.card import write_card
    from model.checkpoint import default_checkpoint_path

    shipped = checkpoint or default_checkpoint_path()
    out = figures or shipped.with_suffix(".json")
    result = write_card(eval_dir, docs, shipped, out, runs)
    typer.echo(json.dumps(result["musdb18-7-valid"], indent=1))
    typer.echo(f"wrote {out} and the images under {docs}")


def _ints(text: str | None) -> tuple[int, ...] | None:
    return tuple(int(float(x)) for x in text.split(",") if x.strip()) if text else None


def _names(text: str | None) -> tuple[str, ...] | None:
    return tuple(s.strip() for s in text.split(",") if s.strip()) if text else None


def bench(
    smoke: Annotated[bool, typer.Option(help="Reduced sizes for CI (well under a minute).")] = False,
    out: Annotated[Path, typer.Option(help="Folder for bench.json and bench.md.")] = Path("runs/bench"),
    device: DeviceOpt = "auto",
    parts: Annotated[str | None, typer.Option(help="Parts to run, e.g. faiss,memory (default: all).")] = None,
    sizes: Annotated[str | None, typer.Option(help="Encoder sizes, e.g. tiny,small,base.")] = None,
    train_sizes: Annotated[str | None, typer.Option(help="Training sizes, e.g. tiny,compact,small.")] = None,
    train_batch: Annotated[int | None, typer.Option(help="Training batch.")] = None,
    train_steps: Annotated[int | None, typer.Option(help="Timed training steps (after one warm-up).")] = None,
    index_sizes: Annotated[str | None, typer.Option(help="Model sizes of the indexing part, e.g. tiny,small.")] = None,
    index_catalogue: Annotated[
        Path | None, typer.Option(help="Index the first --index-files songs of this folder instead of generated ones.")
    ] = None,
    index_files: Annotated[int | None, typer.Option(help="Songs of --index-catalogue to index.")] = None,
    index_workers: Annotated[int | None, typer.Option(help="Decoding processes of the indexing job.")] = None,
    catalogue_sizes: Annotated[
        str | None, typer.Option(help="/retrieve catalogue sizes, e.g. 1000,10000,100000.")
    ] = None,
    requests: Annotated[int | None, typer.Option(help="/retrieve requests per setting.")] = None,
    scale_sizes: Annotated[
        str | None, typer.Option(help="Simulated catalogue sizes of the scale part, e.g. 1000,10000,100000.")
    ] = None,
    scale_requests: Annotated[int | None, typer.Option(help="Scale part: requests per size, mix and variant.")] = None,
    scale_source: Annotated[
        Path | None, typer.Option(help="Scale part: folder of real stems whose onset/chroma rows fill the packs.")
    ] = None,
    faiss_sizes: Annotated[str | None, typer.Option(help="FAISS sweep sizes, e.g. 10000,100000,1000000.")] = None,
    faiss_dim: Annotated[
        int | None, typer.Option(help="Vector width of the FAISS sweep (default: the model's).")
    ] = None,
    faiss_clusters: Annotated[int | None, typer.Option(help="Centres of the vectors; 0: uniform.")] = None,
    faiss_nprobe: Annotated[str | None, typer.Option(help="IVF probes to measure, e.g. 8,32,128.")] = None,
    faiss_flat: Annotated[str | None, typer.Option(help="Exact index storage: fp32 or fp16.")] = None,
    faiss_ivf: Annotated[str | None, typer.Option(help="IVF index_factory string, e.g. 'IVF{nlist},SQ8'.")] = None,
) -> None:
    """Throughput, latency and memory of the encoder, training, indexing, /retrieve and FAISS on this machine."""
    from dataclasses import replace

    from evaluation.bench import PARTS, BenchPlan, run_bench
    from evaluation.benchreport import write_bench_report

    plan = BenchPlan.smoke_plan() if smoke else BenchPlan()
    given: dict[str, object] = {
        "sizes": _names(sizes), "train_sizes": _names(train_sizes), "train_batch": train_batch,
        "train_steps": train_steps, "index_sizes": _names(index_sizes), "index_catalogue": index_catalogue,
        "index_files": index_files, "index_workers": index_workers, "catalogue_sizes": _ints(catalogue_sizes),
        "requests": requests, "scale_sizes": _ints(scale_sizes), "scale_requests": scale_requests,
        "scale_source": scale_source, "faiss_sizes": _ints(faiss_sizes), "faiss_dim": faiss_dim,
        "faiss_clusters": faiss_clusters, "faiss_nprobe": _ints(faiss_nprobe), "faiss_flat": faiss_flat,
        "faiss_ivf": faiss_ivf, "parts": _names(parts),
    }
    overrides = {k: v for k, v in given.items() if v is not None}
    unknown = set(_names(parts) or ()) - set(PARTS)
    if unknown:
        raise typer.BadParameter(f"unknown parts {sorted(unknown)}; choose from {', '.join(PARTS)}")
    if faiss_flat not in (None, "fp32", "fp16"):
        raise typer.BadParameter("--faiss-flat must be fp32 or fp16")
    report = run_bench(replace(plan, **overrides), device)  # type: ignore[arg-type]
    files = write_bench_report(report, out)
    typer.echo(files[1].read_text())
    _files(files)


def loadtest(
    file: Annotated[Path, typer.Option(help="Mix to upload.")],
    url: Annotated[str, typer.Option(help="Base URL of a running server.")] = "http://127.0.0.1:8000",
    instrument: Annotated[str, typer.Option(help="Instrument to ask for.")] = "bass",
    clients: Annotated[int, typer.Option(min=1, help="Concurrent connections.")] = 50,
    requests: Annotated[int, typer.Option(min=1, help="Requests in all.")] = 500,
    k: Annotated[int, typer.Option(min=1, help="Results per request.")] = 10,
) -> None:
    """Load-test a running server: concurrent clients POST the same mix to /retrieve; latency, throughput, errors."""
    import asyncio

    from evaluation.loadtest import run_load

    report = asyncio.run(run_load(url, file.read_bytes(), file.name, instrument, clients, requests, k))
    typer.echo(report.summary())
    for sample in report.error_samples:
        typer.echo(f"error: {sample}")
    raise typer.Exit(1 if report.errors else 0)
