"""`stemjepa bench`: encoder and training throughput per model size, indexing throughput per size (on generated
or real audio), /retrieve latency (evaluation.servebench), FAISS flat vs IVF (evaluation.faissbench), memory
per stem; each number beside the same-run baselines of evaluation.machine."""

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from evaluation import machine
from model.config import RunConfig, load_run_config
from model.embed import Embedder, resolve_device
from model.jepa import StemJEPA
from model.vit import count_parameters, encoder_flops

log = logging.getLogger(__name__)

PARTS = ("encoder", "train", "indexing", "retrieve", "scale", "faiss", "memory")


@dataclass(frozen=True)
class BenchPlan:
    """What to run. The smoke plan is sized for CI (well under a minute on two cores)."""

    sizes: tuple[str, ...] = ("tiny", "small", "base")
    batch: int = 8
    min_seconds: float = 2.0
    train_sizes: tuple[str, ...] = ("tiny", "compact", "small")
    train_batch: int = 16
    train_steps: int = 5  # timed steps, after one warm-up step
    index_seconds: float = 240.0  # audio embedded by each indexing benchmark
    index_sizes: tuple[str, ...] = ("small",)
    index_catalogue: Path | None = None  # real songs to index (the first index_files); None: generated ones
    index_files: int = 5
    index_workers: int = 0  # decoding processes of the indexing job (0: in-process)
    serve_model: str = "small"
    catalogue_sizes: tuple[int, ...] = (1_000, 10_000, 100_000)
    mix_seconds: tuple[float, ...] = (10.0, 30.0)
    requests: int = 20
    faiss_sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    faiss_dim: int | None = None  # None: the serving model's vector width
    faiss_queries: int = 200
    faiss_spread: float = 2.0  # within-cluster noise of the synthetic vectors (larger: harder for IVF)
    faiss_clusters: int = 256  # centres of the synthetic vectors; 0: uniform on the sphere (IVF's worst case)
    faiss_nprobe: tuple[int, ...] = (8, 32)
    faiss_flat: str = "fp32"  # storage of the exact index: fp32, or fp16 where fp32 would not fit
    faiss_ivf: str = "IVF{nlist},Flat"  # faiss.index_factory string; {nlist}: indexer.vectors.default_nlist
    # scale: simulated catalogues in the real on-disk format (evaluation.scalecat), old vs new path
    # "shipped": the bundled checkpoint as the service loads it (a query's speed depends on its predictor units,
    # model.querypredictor); a size name: random weights of that size
    scale_model: str = "shipped"
    scale_sizes: tuple[int, ...] = (1_000, 10_000, 100_000)
    scale_mix_seconds: tuple[float, ...] = (30.0, 180.0)
    scale_requests: int = 8  # per size, mix, variant and cache state
    scale_pool: int = 512  # distinct 3-minute stems whose rows the packs hold
    scale_stem_seconds: float = 180.0
    scale_source: Path | None = None  # real stems whose onset/chroma rows fill the packs; None: synthesised
    scale_concurrent_size: int = 10_000
    scale_clients: int = 16
    scale_concurrent_requests: int = 32
    scale_concurrent_mix_seconds: float = 30.0
    parts: tuple[str, ...] = PARTS
    smoke: bool = False

    @classmethod
    def smoke_plan(cls) -> "BenchPlan":
        return cls(
            sizes=("tiny",),
            batch=2,
            min_seconds=0.2,
            train_sizes=("tiny",),
            train_batch=2,
            train_steps=1,
            index_seconds=16.0,
            index_sizes=("tiny",),
            serve_model="tiny",
            catalogue_sizes=(1_000,),
            mix_seconds=(10.0,),
            requests=3,
            faiss_sizes=(2_000, 10_000),
            faiss_queries=50,
            scale_model="tiny",
            scale_sizes=(200,),
            scale_mix_seconds=(6.0,),
            scale_requests=1,
            scale_pool=8,
            scale_stem_seconds=20.0,
            scale_concurrent_size=200,
            scale_clients=2,
            scale_concurrent_requests=2,
            scale_concurrent_mix_seconds=6.0,
            smoke=True,
        )


def run_config(size: str) -> RunConfig:
    return load_run_config(size)


def bench_embedder(model: str, device: torch.device) -> Embedder:
    """"shipped": the bundled checkpoint as the service loads it (Embedder.from_checkpoint); a size name: a model of
    that size with random weights (random_model)."""
    if model == "shipped":
        return Embedder.from_checkpoint(None, device=str(device))
    return Embedder(random_model(model), device)


def random_model(size: str, seed: int = 0) -> StemJEPA:
    """A randomly initialised model of a size: speed does not depend on the weights."""
    torch.manual_seed(seed)
    return StemJEPA(run_config(size).model)


def encoder_throughput(size: str, device: torch.device, plan: BenchPlan, baseline_gflops: float) -> dict[str, Any]:
    """Chunks (8 s windows) per second through the encoder, and its achieved GFLOP/s against the FLOP count."""
    model = random_model(size).to(device).eval()
    cfg = model.cfg
    rows, cols = cfg.encoder.grid(cfg.audio)
    flops = encoder_flops(cfg.encoder, rows * cols)
    wave = torch.randn(plan.batch, cfg.audio.chunk_samples, device=device) * 0.1
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
    with torch.inference_mode(), autocast:
        mel = model.features(wave)
        enc_s, iters = machine.time_call(lambda: model.context_encoder(mel), device, min_seconds=plan.min_seconds)
        full_s, _ = machine.time_call(
            lambda: model.predictor(
                model.context_encoder(model.features(wave)), torch.zeros(plan.batch, dtype=torch.long, device=device)
            ),
            device,
            min_seconds=plan.min_seconds / 2,
        )
    gflops = flops * plan.batch / enc_s / 1e9
    return {
        "size": size,
        "device": str(device),
        "params_m": count_parameters(model.context_encoder) / 1e6,
        "gflop_per_chunk": flops / 1e9,
        "batch": plan.batch,
        "iters": iters,
        "encoder_chunks_per_s": plan.batch / enc_s,
        "encoder_gflops": gflops,
        "ratio_to_gemm": gflops / baseline_gflops if baseline_gflops else None,
        "query_chunks_per_s": plan.batch / full_s,  # log-mel + context encoder + predictor
        "realtime_factor": plan.batch * cfg.audio.chunk_seconds / full_s,
    }


def train_throughput(size: str, device: torch.device, plan: BenchPlan) -> dict[str, Any]:
    """Training samples per second of a size: full steps of model.train.Trainer (context encoder and
    predictor forward and backward, target encoder forward, AdamW, EMA update, and the InfoNCE term where the
    size's recipe has one) on random 8 s waveforms, after one warm-up step (allocations, kernel choice)."""
    import tempfile
    from dataclasses import replace

    from model.cache import CachedSong
    from model.melspec import NormStats
    from model.train import Trainer

    run = run_config(size)
    run = replace(run, train=replace(run.train, batch_size=plan.train_batch))
    chunk = run.model.audio.chunk_samples
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        # the trainer's dataset is never read: the steps are fed random waveforms
        trainer = Trainer(run, [CachedSong("bench", Path(tmp) / "unused.npy", chunk)], Path(tmp), device,
                          NormStats(0.0, 1.0))
        b = plan.train_batch
        ctx, tgt = (torch.randn(b, chunk, device=device) * 0.1 for _ in range(2))
        inst = torch.randint(0, len(run.model.instruments), (b,), device=device)
        song = torch.arange(b, device=device)
        # exactly train_steps timed steps after the warm-up one
        seconds, _ = machine.time_call(lambda: trainer.train_step(ctx, tgt, inst, song), device, warmup=1,
                                       min_seconds=float("inf"), max_iters=plan.train_steps)
    return {"size": size, "device": str(device), "batch": b, "steps": plan.train_steps,
            "params_m": count_parameters(trainer.model.context_encoder) / 1e6, "samples_per_s": b / seconds}


def write_catalogue(root: Path, songs: int, seconds: float, sample_rate: int = 16_000, seed: int = 0) -> float:
    """Song folders of four generated stems (bass, drums, other, vocals wav); returns the audio seconds."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    for i in range(songs):
        folder = root / f"song{i:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        f0 = 55.0 * 2 ** (rng.integers(0, 12) / 12)
        for j, name in enumerate(("bass", "drums", "other", "vocals")):
            wave = 0.2 * np.sin(2 * np.pi * f0 * 2**j * t) + 0.02 * rng.standard_normal(len(t))
            sf.write(folder / f"{name}.wav", wave.astype(np.float32), sample_rate)
    return songs * 4 * seconds


def indexing_throughput(device: torch.device, plan: BenchPlan) -> list[dict[str, Any]]:
    """Audio seconds per second of indexing, per size of plan.index_sizes: the embedding stage alone
    (Embedder.embed_stems on 30 s stems) and a whole `indexer.build.build_index` job (discovery, decode and
    analysis, embed, FAISS + frames + SQL writes, publish) on a generated catalogue or on the first
    plan.index_files songs of plan.index_catalogue."""
    rows: list[dict[str, Any]] = []
    for size in plan.index_sizes:
        embedder = Embedder(random_model(size), device)
        embed_rate = _embedding_rate(embedder, device, plan)
        rows.append({"model": size, "scope": "embedding stage (Embedder.embed_stems)", **embed_rate,
                     "ratio_to_embedding": 1.0})
        job = _index_job(embedder, plan)
        scope = f"build_index job on {plan.index_catalogue.name}" if plan.index_catalogue else "build_index job"
        rows.append({"model": size, "scope": f"{scope} (end to end)", **job,
                     "ratio_to_embedding": job["audio_s_per_s"] / embed_rate["audio_s_per_s"]})
    return rows


def _embedding_rate(embedder: Embedder, device: torch.device, plan: BenchPlan) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    stem_seconds = min(30.0, plan.index_seconds)
    n = max(1, int(plan.index_seconds // stem_seconds))
    waves = [rng.standard_normal(int(stem_seconds * embedder.sample_rate)).astype(np.float32) * 0.1 for _ in range(n)]
    embedder.embed_stems(waves[:1])  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    embedder.embed_stems(waves)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - t0
    return {"stems": n, "audio_s": n * stem_seconds, "wall_s": seconds, "audio_s_per_s": n * stem_seconds / seconds}


def _index_job(embedder: Embedder, plan: BenchPlan) -> dict[str, Any]:
    import shutil
    import tempfile

    from indexer.build import build_index
    from indexer.db import upgrade
    from indexer.settings import load_settings
    from model.split import song_entries

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        catalogue = root / "catalogue"
        if plan.index_catalogue is not None:
            for song in song_entries(plan.index_catalogue.resolve())[: plan.index_files]:
                # copies, not links: the indexer refuses files that resolve outside the catalogue's root
                files = sorted(song.iterdir()) if song.is_dir() else [song]
                folder = catalogue / song.name if song.is_dir() else catalogue
                folder.mkdir(parents=True, exist_ok=True)
                for f in files:
                    shutil.copyfile(f, folder / f.name)
        else:
            write_catalogue(catalogue, max(1, round(plan.index_seconds / 40.0)), 10.0)
        settings = load_settings(index_dir=root / "index", db_url=f"sqlite:///{root / 'catalogue.sqlite'}",
                                 workers=plan.index_workers)
        upgrade(settings.database_url)
        report = build_index(catalogue, settings, embedder=embedder)
    return {
        "stems": report.added,
        "audio_s": report.audio_seconds,
        "wall_s": report.seconds,
        "audio_s_per_s": report.audio_seconds / report.seconds,
        "embed_stage_audio_s_per_s": report.audio_seconds_per_second,
        "stage_seconds": report.stage_seconds,
    }


def memory_per_stem(cfg_size: str, stem_seconds: float = 180.0, store_format: int = 3) -> dict[str, Any]:
    """Bytes a catalogue stem costs: its vector (FAISS float32 + 8-byte id), its frame sequence and its stored
    alignment rows (onsets at 10 ms, chroma at 40 ms) as packs of `store_format` keep them (3: the codecs of
    indexer.codecs with their per-stem parameters; 2: indexer.frames.row_bytes, 8-bit values plus the row's
    2-byte scale), plus the 24-byte id-table entry of each pack."""
    from analysis.chroma import CHROMA_HOP_STEPS, ONSET_HOP_SECONDS
    from indexer.analyses import CODECS, KINDS
    from indexer.codecs import Codec
    from indexer.frames import frame_codec, row_bytes

    cfg = run_config(cfg_size).model
    rows, _ = cfg.encoder.grid(cfg.audio)
    dim = rows * cfg.encoder.dim
    frame_seconds = cfg.encoder.patch_size * cfg.audio.hop_length / cfg.audio.sample_rate
    frames = int(np.ceil(stem_seconds / frame_seconds))
    vector_bytes = dim * 4 + 8
    onset_rows = round(stem_seconds / ONSET_HOP_SECONDS)
    chroma_rows = onset_rows // CHROMA_HOP_STEPS

    def coded(codec: Codec, n: int) -> int:
        return codec.rows(n) * codec.code_width + 4 * codec.params + 24

    if store_format >= 3:
        frame_bytes = coded(frame_codec(cfg.frames.dim), frames)
        onset_bytes, chroma_bytes = coded(CODECS["onsets"], onset_rows), coded(CODECS["chroma"], chroma_rows)
        frame_dtype = "uint8"
    else:
        frame_bytes = frames * row_bytes(cfg.frames.dim, np.int8) + 24
        onset_bytes = onset_rows * row_bytes(*KINDS["onsets"]) + 24
        chroma_bytes = chroma_rows * row_bytes(*KINDS["chroma"]) + 24
        frame_dtype = "int8"
    align_bytes = frame_bytes + onset_bytes + chroma_bytes
    per_hour = 3600 / stem_seconds / 1e6
    return {
        "model": cfg_size,
        "store_format": store_format,
        "stem_seconds": stem_seconds,
        "vector_dim": dim,
        "vector_bytes": vector_bytes,
        "frame_dim": cfg.frames.dim,
        "frame_dtype": frame_dtype,
        "frame_bytes": frame_bytes,
        "onset_bytes": onset_bytes,
        "chroma_bytes": chroma_bytes,
        "mb_per_hour": align_bytes * per_hour,  # frames + alignment rows
        "mb_per_hour_parts": {"frames": frame_bytes * per_hour, "onsets": onset_bytes * per_hour,
                              "chroma": chroma_bytes * per_hour, "faiss": vector_bytes * per_hour},
        "total_kib": (vector_bytes + align_bytes) / 1024,
        "per_million_stems_gib": (vector_bytes + align_bytes) * 1e6 / 2**30,
    }


def _retrieve(plan: BenchPlan, device: torch.device) -> list[dict[str, Any]]:
    from evaluation.servebench import retrieve_latency  # imports the service

    return retrieve_latency(plan, device)


def run_bench(plan: BenchPlan, device: str = "auto") -> dict[str, Any]:
    """Runs every part of the plan."""
    dev = resolve_device(device)
    t0 = time.perf_counter()
    report: dict[str, Any] = {"smoke": plan.smoke, "machine": machine.describe(dev)}
    log.info("bench on %s (%s)", report["machine"]["cpu"], dev)
    report["baselines"] = machine.baselines(dev, plan.smoke)
    gemm = report["baselines"]["gemm"]["gflops"]
    want = set(plan.parts)
    if "encoder" in want:
        report["encoder"] = [encoder_throughput(size, dev, plan, gemm) for size in plan.sizes]
    if "indexing" in want:
        report["indexing"] = indexing_throughput(dev, plan)
    if "retrieve" in want:
        report["retrieve"] = _retrieve(plan, dev)
    if "scale" in want:
        from evaluation.servebench import scale_latency  # imports the service

        report["scale"] = scale_latency(plan, dev)
    if "train" in want:
        report["train"] = [train_throughput(size, dev, plan) for size in plan.train_sizes]
    if "faiss" in want:
        from evaluation.faissbench import faiss_sweep

        dim = plan.faiss_dim or Embedder(random_model(plan.serve_model)).dim
        report["faiss"] = faiss_sweep(dim, plan)
    if "memory" in want:
        report["memory_per_stem"] = [memory_per_stem(size, store_format=f) for size in plan.sizes for f in (2, 3)]
    report["seconds"] = round(time.perf_counter() - t0, 1)
    return report
