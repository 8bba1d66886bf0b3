"""FAISS flat vs IVF per catalogue size (`stemjepa bench --parts faiss`): build time, single-query latency
percentiles and recall@10 against the flat index, on synthetic unit vectors, clustered as real embeddings
are or uniform on the sphere (IVF's worst case), with the exact index stored as fp32 or fp16."""

import logging
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from evaluation.latency import percentiles

if TYPE_CHECKING:
    from evaluation.bench import BenchPlan

log = logging.getLogger(__name__)

FLAT_BYTES = {"fp32": 4, "fp16": 2}  # per vector component


def clustered_vectors(n: int, dim: int, clusters: int = 256, spread: float = 0.6, seed: int = 0) -> np.ndarray:
    """[n, dim] unit vectors around random centres (per-dimension noise `spread` x the centres' scale):
    real embeddings cluster; uniform random vectors would make IVF look worse than it is, and tight
    clusters better (recall@10 at nprobe 8 is about 1.0 at spread 1.5 and 0.6 at 2.5). clusters=0: uniform
    on the sphere. Generated 100k rows at a time."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32) if clusters else None
    out = np.empty((n, dim), np.float32)
    step = 100_000
    for start in range(0, n, step):
        m = min(step, n - start)
        if centres is None:
            x = rng.standard_normal((m, dim)).astype(np.float32)
        else:
            x = centres[rng.integers(0, clusters, m)] + spread * rng.standard_normal((m, dim)).astype(np.float32)
        out[start : start + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def _flat(dim: int, storage: str) -> Any:
    import faiss

    from indexer import vectors

    if storage == "fp16":
        return faiss.IndexIDMap2(faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_fp16,
                                                            faiss.METRIC_INNER_PRODUCT))
    if storage != "fp32":
        raise ValueError(f"flat storage must be fp32 or fp16, got {storage!r}")
    return vectors.new_flat(dim)


def faiss_sweep(dim: int, plan: "BenchPlan") -> list[dict[str, Any]]:
    """Flat vs IVF (plan.faiss_ivf, at each of plan.faiss_nprobe) per catalogue size: single-query latency
    (p50/p95/p99 ms) and recall@10 against the flat index."""
    import faiss

    from indexer import vectors

    rows: list[dict[str, Any]] = []
    bytes_per_vector = dim * FLAT_BYTES.get(plan.faiss_flat, 4) + 8
    for n in plan.faiss_sizes:
        t0 = time.perf_counter()
        data = clustered_vectors(n, dim, clusters=plan.faiss_clusters, spread=plan.faiss_spread)
        ids = np.arange(n, dtype=np.int64)
        queries = vectors.noisy_queries(data, plan.faiss_queries, seed=1)
        flat = _flat(dim, plan.faiss_flat)
        vectors.add(flat, ids, data)
        _, exact = flat.search(queries, 10)
        flat_ms = _query_latencies(lambda q, index=flat: vectors.search(index, q, 10), queries)
        rows.append({"vectors": n, "dim": dim, "index": "flat", "storage": plan.faiss_flat, **flat_ms,
                     "recall@10": 1.0, "index_gib": n * bytes_per_vector / 2**30,
                     "build_s": time.perf_counter() - t0})
        t1 = time.perf_counter()
        nlist = vectors.default_nlist(n)
        ivf, info = vectors.train_ivf(ids, data, plan.faiss_ivf, nlist=nlist, max_train=min(n, 64 * nlist),
                                      nprobe=16)
        build = time.perf_counter() - t1
        for nprobe in plan.faiss_nprobe:
            probes = min(nprobe, nlist)
            faiss.extract_index_ivf(ivf).nprobe = probes
            _, got = ivf.search(queries, 10)
            recall = float(
                np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact.tolist(), got.tolist(), strict=True)])
            )
            lat = _query_latencies(lambda q, index=ivf, p=probes: vectors.search(index, q, 10, nprobe=p), queries)
            rows.append({"vectors": n, "dim": dim, "index": f"{info.factory} nprobe={probes}", "storage": "ivf",
                         **lat, "recall@10": recall, "index_gib": n * (dim * 4 + 8) / 2**30, "build_s": build})
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
