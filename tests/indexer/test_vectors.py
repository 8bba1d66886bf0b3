"""FAISS helpers: exact flat search with ids, exclusion inside FAISS, removal, IVF with measured recall."""

import numpy as np

from indexer import vectors


def _unit(n: int, d: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_flat_search_returns_sql_ids_best_first_and_honours_exclusions() -> None:
    x = _unit(200, 32)
    ids = np.arange(1000, 1200)
    idx = vectors.new_flat(32)
    vectors.add(idx, ids, x)
    scores, got = vectors.search(idx, x[:1], 5)
    assert got[0, 0] == 1000 and np.all(np.diff(scores[0]) <= 1e-6)
    _, got = vectors.search(idx, x[:1], 5, exclude_ids=np.array([1000]))
    assert 1000 not in got[0] and len(got[0]) == 5 and (got[0] >= 0).all()
    assert vectors.remove(idx, np.array([1000, 5])) == 1
    assert set(vectors.index_ids(idx)) == set(range(1001, 1200))


def _clustered(n: int, d: int, clusters: int, seed: int = 0) -> np.ndarray:
    """Unit vectors around `clusters` centres: closer to embeddings of real stems than uniform noise."""
    rng = np.random.default_rng(seed)
    centres = _unit(clusters, d, seed + 1)
    x = centres[rng.integers(0, clusters, n)] + 0.15 * rng.standard_normal((n, d)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_ivf_recall_is_measured_and_exact_when_every_list_is_probed() -> None:
    x = _unit(3000, 32, seed=1)
    ids = np.arange(3000, dtype=np.int64)
    idx, info = vectors.train_ivf(ids, x, nlist=16, nprobe=16)
    assert info.recall_at_10 == 1.0
    idx.nprobe = 1
    assert vectors.measure_recall(idx, ids, x) < 1.0


def test_ivf_keeps_high_recall_on_clustered_vectors_and_supports_ids() -> None:
    x = _clustered(4000, 64, clusters=40, seed=1)
    ids = np.arange(4000) * 3 + 7
    idx, info = vectors.train_ivf(ids, x, nprobe=16)
    assert vectors.is_ivf(idx) and info.nlist == vectors.default_nlist(4000)
    assert info.recall_at_10 >= 0.9, info
    assert sorted(vectors.index_ids(idx)) == sorted(ids)
    _, got = vectors.search(idx, x[:1], 10, exclude_ids=np.array([7]))
    assert 7 not in got[0] and (got[0] >= 0).all()
    assert vectors.remove(idx, ids[:10]) == 10 and idx.ntotal == 3990
