"""FAISS flat vs IVF on random unit vectors: build time, single-query latency and recall@10 against exact.

Vectors are generated chunk by chunk from a seed (never held twice), so 1M x 3840 needs only the index's
own memory; `--flat fp16` stores the exact index as float16 (IndexScalarQuantizer) where float32 would not
fit. Queries are noisy copies of catalogue vectors (noise norm 0.5), as in the indexer's own recall check.
Run: .venv/bin/python scripts/bench_faiss.py --n 100000 --dim 1920 [--flat fp32|fp16] [--ivf IVF1024,Flat]
"""

import argparse
import json
import sys
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from indexer.vectors import default_nlist

CHUNK = 50_000


CLUSTERS = 0  # --clusters: 0 = uniform on the sphere; K = around K random centres (spread 0.5)


def chunk(seed: int, i: int, n: int, dim: int) -> np.ndarray:
    rng = np.random.default_rng((seed, i))
    x = rng.standard_normal((n, dim), dtype=np.float32)
    if CLUSTERS:
        centres = np.random.default_rng((seed, 2**31)).standard_normal((CLUSTERS, dim), dtype=np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        x = centres[rng.integers(0, CLUSTERS, n)] + x * (0.5 / np.sqrt(dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def chunks(seed: int, n: int, dim: int):  # type: ignore[no-untyped-def]
    for i, start in enumerate(range(0, n, CHUNK)):
        yield start, chunk(seed, i, min(CHUNK, n - start), dim)


def queries(seed: int, n: int, dim: int, count: int) -> np.ndarray:
    rng = np.random.default_rng(seed + 1)
    picks = np.sort(rng.choice(n, count, replace=False))
    rows = []
    for c in np.unique(picks // CHUNK):  # each chunk generated once; rows copied out of it
        data = chunk(seed, int(c), min(CHUNK, n - int(c) * CHUNK), dim)
        rows.append(data[picks[picks // CHUNK == c] % CHUNK].copy())
        del data
    base = np.concatenate(rows)
    q = base + rng.standard_normal(base.shape, dtype=np.float32) * (0.5 / np.sqrt(dim))
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def latency_ms(index: faiss.Index, q: np.ndarray, k: int = 10, threads: int = 1) -> tuple[float, np.ndarray]:
    """Mean time of one single-query search (as the service makes them), in ms, and the ids found."""
    build_threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads)
    index.search(q[:2], k)  # warm
    out = np.zeros((len(q), k), np.int64)
    start = time.perf_counter()
    for i in range(len(q)):
        out[i] = index.search(q[i : i + 1], k)[1][0]
    elapsed = time.perf_counter() - start
    faiss.omp_set_num_threads(build_threads)
    return elapsed / len(q) * 1000, out


def recall(truth: np.ndarray, got: np.ndarray) -> float:
    return float(np.mean([len(set(t) & set(g)) / len(t) for t, g in zip(truth, got, strict=True)]))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--dim", type=int, default=1920)
    p.add_argument("--flat", choices=["fp32", "fp16"], default="fp32")
    p.add_argument("--ivf", default=None, help="index_factory string; default IVF{default_nlist},Flat")
    p.add_argument("--nprobe", type=int, nargs="+", default=[8, 32, 128])
    p.add_argument("--queries", type=int, default=100)
    p.add_argument("--max-train", type=int, default=50_000)
    p.add_argument("--threads", type=int, default=2, help="OpenMP threads for building")
    p.add_argument("--search-threads", type=int, default=1, help="OpenMP threads for search (1: see the note)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--clusters", type=int, default=0, help="0: uniform random; K: clustered around K centres")
    a = p.parse_args()
    global CLUSTERS
    CLUSTERS = a.clusters
    faiss.omp_set_num_threads(a.threads)
    q = queries(a.seed, a.n, a.dim, a.queries)
    out: dict[str, object] = {"n": a.n, "dim": a.dim, "clusters": a.clusters, "threads": a.threads,
                              "search_threads": a.search_threads, "queries": a.queries}

    t0 = time.perf_counter()
    flat = (faiss.IndexFlatIP(a.dim) if a.flat == "fp32"
            else faiss.IndexScalarQuantizer(a.dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT))
    for _, x in chunks(a.seed, a.n, a.dim):
        flat.add(x)
    build = time.perf_counter() - t0
    ms, truth = latency_ms(flat, q, threads=a.search_threads)
    out["flat"] = {"kind": a.flat, "build_s": round(build, 1), "latency_ms": round(ms, 2),
                   "bytes_per_vector": a.dim * (4 if a.flat == "fp32" else 2)}
    del flat

    spec = a.ivf or f"IVF{min(default_nlist(a.n), 1024)},Flat"
    t0 = time.perf_counter()
    ivf = faiss.index_factory(a.dim, spec, faiss.METRIC_INNER_PRODUCT)
    first = [chunk(a.seed, i, min(CHUNK, a.n - i * CHUNK), a.dim) for i in range(-(-min(a.max_train, a.n) // CHUNK))]
    train = np.concatenate(first)[: a.max_train]
    del first
    ivf.train(train)
    del train
    trained = time.perf_counter() - t0
    for _, x in chunks(a.seed, a.n, a.dim):
        ivf.add(x)
    built = time.perf_counter() - t0
    res = []
    for nprobe in a.nprobe:
        faiss.extract_index_ivf(ivf).nprobe = nprobe
        ms, got = latency_ms(ivf, q, threads=a.search_threads)
        res.append({"nprobe": nprobe, "latency_ms": round(ms, 2), "recall_at_10": round(recall(truth, got), 3)})
    out["ivf"] = {"factory": spec, "train_s": round(trained, 1), "build_s": round(built, 1), "search": res}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
