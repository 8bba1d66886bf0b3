"""`stemjepa bench`: encoder throughput per model size, indexing throughput, /retrieve latency, FAISS flat
vs IVF, memory per stem; each number beside the same-run baselines of evaluation.machine."""

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from evaluation import machine
from evaluation.latency import percentiles
from model.config import RunConfig, load_run_config
from model.embed import Embedder, resolve_device
from model.jepa import StemJEPA
from model.vit import count_parameters, encoder_flops

log = logging.getLogger(__name__)



PARTS = ("encoder", "indexing", "retrieve", "faiss", "memory")


@dataclass(frozen=True)
class BenchPlan:
    """What to run. The smoke plan is sized for CI (well under a minute on two cores)."""

    sizes: tuple[str, ...] = ("tiny", "small", "base")
    batch: int = 8
    min_seconds: float = 2.0
    index_seconds: float = 240.0  # audio embedded by each indexing benchmark
    serve_model: str = "small"
    catalogue_sizes: tuple[int, ...] = (1_000, 10_000, 100_000)
    mix_seconds: tuple[float, ...] = (10.0, 30.0)
    requests: int = 20
    faiss_sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    faiss_dim: int | None = None  # None: the serving model's vector width
    faiss_queries: int = 200
    faiss_spread: float = 2.0  # within-cluster noise of the synthetic vectors (larger: harder for IVF)
    parts: tuple[str, ...] = PARTS
    smoke: bool = False

    @classmethod
    def smoke_plan(cls) -> "BenchPlan":
        return cls(
            sizes=("tiny",),
            batch=2,
            min_seconds=0.2,
            index_seconds=16.0,
            serve_model="tiny",
            catalogue_sizes=(1_000,),
            mix_seconds=(10.0,),
            requests=3,
            faiss_sizes=(2_000, 10_000),
            faiss_queries=50,
            smoke=True,
        )


def run_config(size: str) -> RunConfig:
    return load_run_config(size)


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
    """Audio seconds per second of indexing: the embedding stage alone (Embedder.embed_stems on 30 s stems)
    and, when the indexer is importable, a whole `indexer.build.build_index` job on a generated catalogue
    (discovery, decode, embed, FAISS + frames + SQL writes, publish)."""
    model = random_model(plan.serve_model)
    embedder = Embedder(model, device)
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
    embed_rate = n * stem_seconds / seconds
    rows: list[dict[str, Any]] = [
        {
            "model": plan.serve_model,
            "scope": "embedding stage (Embedder.embed_stems)",
            "stems": n,
            "audio_s": n * stem_seconds,
            "wall_s": seconds,
            "audio_s_per_s": embed_rate,
            "ratio_to_embedding": 1.0,
        }
    ]
    job = _index_job(embedder, plan)
    rows.append(
        {
            "model": plan.serve_model,
            "scope": "build_index job (end to end)",
            **job,
            "ratio_to_embedding": job["audio_s_per_s"] / embed_rate,
        }
    )
    return rows


def _index_job(embedder: Embedder, plan: BenchPlan) -> dict[str, Any]:
    import tempfile

    from indexer.build import build_index
    from indexer.db import upgrade
    from indexer.settings import load_settings

    stem_seconds = 10.0
    songs = max(1, round(plan.index_seconds / (4 * stem_seconds)))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        audio = write_catalogue(root / "catalogue", songs, stem_seconds)
        settings = load_settings(index_dir=root / "index", db_url=f"sqlite:///{root / 'catalogue.sqlite'}", workers=0)
        upgrade(settings.database_url)
        report = build_index(root / "catalogue", settings, embedder=embedder)
    return {
        "stems": report.added,
        "audio_s": audio,
        "wall_s": report.seconds,
        "audio_s_per_s": audio / report.seconds,
        "stage_seconds": report.stage_seconds,
    }


def memory_per_stem(cfg_size: str, stem_seconds: float = 180.0) -> dict[str, Any]:
    """Bytes a catalogue stem costs: its vector (FAISS float32 + 8-byte id) and its frame sequence."""
    from indexer.frames import FRAME_DTYPE

    cfg = run_config(cfg_size).model
    rows, _ = cfg.encoder.grid(cfg.audio)
    dim = rows * cfg.encoder.dim
    frame_seconds = cfg.encoder.patch_size * cfg.audio.hop_length / cfg.audio.sample_rate
    frames = int(np.ceil(stem_seconds / frame_seconds))
    vector_bytes = dim * 4 + 8
    frame_bytes = frames * cfg.frames.dim * np.dtype(FRAME_DTYPE).itemsize + 24
    return {
        "model": cfg_size,
        "stem_seconds": stem_seconds,
        "vector_dim": dim,
        "vector_bytes": vector_bytes,
        "frame_dim": cfg.frames.dim,
        "frame_dtype": np.dtype(FRAME_DTYPE).name,
        "frame_bytes": frame_bytes,
        "total_kib": (vector_bytes + frame_bytes) / 1024,
        "per_million_stems_gib": (vector_bytes + frame_bytes) * 1e6 / 2**30,
    }


def clustered_vectors(n: int, dim: int, clusters: int = 256, spread: float = 0.6, seed: int = 0) -> np.ndarray:
    """[n, dim] unit vectors around random centres (per-dimension noise `spread` x the centres' scale):
    real embeddings cluster; uniform random vectors would make IVF look worse than it is, and tight
    clusters better (recall@10 at nprobe 8 is about 1.0 at spread 1.5 and 0.6 at 2.5)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    out = np.empty((n, dim), np.float32)
    step = 100_000
    for start in range(0, n, step):
        m = min(step, n - start)
        x = centres[rng.integers(0, clusters, m)] + spread * rng.standard_normal((m, dim)).astype(np.float32)
        out[start : start + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def faiss_sweep(dim: int, plan: BenchPlan) -> list[dict[str, Any]]:
    """Flat vs IVF per catalogue size: single-query latency (p50/p95 ms) and recall@10 against flat."""
    import faiss

    from indexer import vectors

    rows: list[dict[str, Any]] = []
    for n in plan.faiss_sizes:
        t0 = time.perf_counter()
        data = clustered_vectors(n, dim, spread=plan.faiss_spread)
        ids = np.arange(n, dtype=np.int64)
        queries = vectors.noisy_queries(data, plan.faiss_queries, seed=1)
        flat = vectors.new_flat(dim)
        vectors.add(flat, ids, data)
        _, exact = flat.search(queries, 10)
        flat_ms = _query_latencies(lambda q, index=flat: vectors.search(index, q, 10), queries)
        rows.append(
            {
                "vectors": n,
                "dim": dim,
                "index": "flat",
                **flat_ms,
                "recall@10": 1.0,
                "index_gib": n * (dim * 4 + 8) / 2**30,
                "build_s": time.perf_counter() - t0,
            }
        )
        t1 = time.perf_counter()
        nlist = vectors.default_nlist(n)
        ivf, _ = vectors.train_ivf(ids, data, nlist=nlist, max_train=min(n, 64 * nlist), nprobe=16)
        build = time.perf_counter() - t1
        for nprobe in (8, 32):
            faiss.extract_index_ivf(ivf).nprobe = min(nprobe, nlist)
            _, got = ivf.search(queries, 10)
            recall = float(
                np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact.tolist(), got.tolist(), strict=True)])
            )
            probes = min(nprobe, nlist)
            lat = _query_latencies(lambda q, index=ivf, p=probes: vectors.search(index, q, 10, nprobe=p), queries)
            rows.append(
                {
                    "vectors": n,
                    "dim": dim,
                    "index": f"IVF{nlist},Flat nprobe={min(nprobe, nlist)}",
                    **lat,
                    "recall@10": recall,
                    "index_gib": n * (dim * 4 + 8) / 2**30,
                    "build_s": build,
                }
            )
        del flat, ivf, data
        log.info("faiss: %d x %d done in %.1f s", n, dim, time.perf_counter() - t0)
    flat_p50 = {r["vectors"]: float(r["p50_ms"]) for r in rows if r["index"] == "flat"}
    for row in rows:
        row["speedup_vs_flat"] = flat_p50[row["vectors"]] / row["p50_ms"] if row["p50_ms"] else None
    return rows


def _query_latencies(search: Any, queries: np.ndarray) -> dict[str, float]:
    """Per-query latency percentiles with FAISS's default OpenMP threads (as the service runs), plus the
    median with one thread: on a busy machine OpenMP's spinning threads can cost more than the search."""
    import faiss

    def run() -> list[float]:
        ms = []
        for q in queries:
            t0 = time.perf_counter()
            search(q[None, :])
            ms.append((time.perf_counter() - t0) * 1000)
        return ms

    threads = faiss.omp_get_max_threads()
    ms = run()
    faiss.omp_set_num_threads(1)
    try:
        one = run()
    finally:
        faiss.omp_set_num_threads(threads)
    return {**percentiles(ms), "p50_ms_1thread": percentiles(one, (50,))["p50_ms"], "omp_threads": float(threads)}


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
    if "faiss" in want:
        dim = plan.faiss_dim or Embedder(random_model(plan.serve_model)).dim
        report["faiss"] = faiss_sweep(dim, plan)
    if "memory" in want:
        report["memory_per_stem"] = [memory_per_stem(size) for size in plan.sizes]
    report["seconds"] = round(time.perf_counter() - t0, 1)
    return report
