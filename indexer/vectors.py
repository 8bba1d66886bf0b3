"""FAISS indexes of stem vectors: exact while small, IVF above a threshold, ids = SQL stem ids.

Inner product on unit vectors (= cosine). A small index is `IndexIDMap2(IndexFlatIP)` (exact, and it can
give its vectors back, which is how it is converted to IVF when it grows); a large one is an IVF index made
by `faiss.index_factory` ("IVF{nlist},Flat", ",SQ8", ",PQ32", ...), trained on the vectors at hand, with ids
stored in its inverted lists, and the recall@10 it keeps against exact search measured when trained.
"""

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from model.files import atomic_write_path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IvfInfo:
    """How an IVF index was made: factory string, lists, default probes, trained size, measured recall@10."""

    factory: str
    nlist: int
    nprobe: int
    trained_on: int
    recall_at_10: float


def new_flat(dim: int) -> Any:
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def is_ivf(index: Any) -> bool:
    return faiss.try_extract_index_ivf(index) is not None


def index_ids(index: Any) -> np.ndarray:
    """All ids [N] int64 held by a flat IDMap or an IVF index."""
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is None:
        return faiss.vector_to_array(index.id_map).astype(np.int64)
    lists: Any = ivf.invlists
    parts = [faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
             for i in range(ivf.nlist) if lists.list_size(i)]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)


def flat_vectors(index: Any) -> tuple[np.ndarray, np.ndarray]:
    """(ids [N], vectors [N, D] float32) of a flat IDMap index."""
    ids = faiss.vector_to_array(index.id_map).astype(np.int64)
    vectors = index.index.reconstruct_n(0, index.ntotal) if index.ntotal else np.zeros((0, index.d), np.float32)
    return ids, vectors


def flat_storage(index: Any) -> tuple[np.ndarray, np.ndarray]:
    """(ids [N], vectors [N, D] float32) of a flat IDMap index, the vectors a read-only view of the index's
    own storage (no copy): valid only while the index lives and is not changed."""
    ids = faiss.vector_to_array(index.id_map).astype(np.int64)
    n, d = int(index.ntotal), int(index.d)
    if not n:
        return ids, np.zeros((0, d), np.float32)
    flat: Any = faiss.downcast_index(index.index)
    data = faiss.rev_swig_ptr(flat.get_xb(), n * d).reshape(n, d)
    data.flags.writeable = False
    return ids, data


def add(index: Any, ids: np.ndarray, vectors: np.ndarray) -> None:
    """Adds `vectors` [N, D] under `ids` [N]."""
    if len(ids):
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))


def remove(index: Any, ids: np.ndarray) -> int:
    """Removes `ids`; returns how many were held."""
    if not len(ids):
        return 0
    return int(index.remove_ids(faiss.IDSelectorBatch(np.asarray(ids, dtype=np.int64))))


def default_nlist(n: int) -> int:
    """About 4 sqrt(N) lists (FAISS's guideline), a power of two, with >= 39 training points per list."""
    nlist = 2 ** round(math.log2(max(1.0, 4 * math.sqrt(n))))
    return int(max(1, min(nlist, n // 39, 65536)))


def train_ivf(ids: np.ndarray, vectors: np.ndarray, factory: str = "IVF{nlist},Flat", nlist: int | None = None,
              nprobe: int = 32, max_train: int = 100_000, seed: int = 0) -> tuple[Any, IvfInfo]:
    """Builds an IVF index over `vectors` [N, D] with `ids` [N]; `factory` may hold `{nlist}`.

    Trains on at most `max_train` vectors, then measures recall@10 at `nprobe` against exact search.
    """
    n, dim = vectors.shape
    nlist = nlist or default_nlist(n)
    spec = factory.format(nlist=nlist)
    index = faiss.index_factory(dim, spec, faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(seed)
    sample = vectors if n <= max_train else vectors[rng.choice(n, max_train, replace=False)]
    index.train(np.ascontiguousarray(sample, dtype=np.float32))
    add(index, ids, vectors)
    nprobe = min(nprobe, nlist)
    faiss.extract_index_ivf(index).nprobe = nprobe
    recall = measure_recall(index, ids, vectors, k=10, seed=seed)
    log.info("trained %s on %d of %d vectors: recall@10 %.3f at nprobe %d", spec, len(sample), n, recall, nprobe)
    return index, IvfInfo(spec, nlist, nprobe, n, recall)


def noisy_queries(vectors: np.ndarray, n: int, noise: float = 0.5, seed: int = 0) -> np.ndarray:
    """Unit queries near catalogue vectors (a catalogue vector plus isotropic noise of norm ~`noise`)."""
    rng = np.random.default_rng(seed)
    base = vectors[rng.choice(len(vectors), min(n, len(vectors)), replace=False)]
    q = base + rng.standard_normal(base.shape).astype(np.float32) * (noise / math.sqrt(vectors.shape[1]))
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def measure_recall(index: Any, ids: np.ndarray, vectors: np.ndarray, k: int = 10, queries: int = 200,
                   seed: int = 0) -> float:
    """recall@k of `index` against exact inner-product search over (`ids`, `vectors`), on noisy queries."""
    if not len(ids):
        return 1.0
    q = noisy_queries(vectors, queries, seed=seed)
    k = min(k, len(ids))
    _, exact = faiss.knn(q, np.ascontiguousarray(vectors, dtype=np.float32), k, metric=faiss.METRIC_INNER_PRODUCT)
    _, got = index.search(q, k)
    truth = ids[exact]
    hits = sum(len(set(t.tolist()) & set(g.tolist())) for t, g in zip(truth, got, strict=True))
    return hits / (len(q) * k)


def search(index: Any, queries: np.ndarray, k: int, exclude_ids: np.ndarray | None = None,
           nprobe: int | None = None, include_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Top-`k` inner products for `queries` [Q, D]: (scores [Q, k], ids [Q, k]), id -1 where fewer exist.

    `exclude_ids` are filtered inside FAISS (an IDSelector), so k results still come back when there are;
    `include_ids` restricts the search to those ids (an IVF index finds them only in the lists it probes).
    """
    sel: Any = None
    if include_ids is not None:
        sel = faiss.IDSelectorBatch(np.asarray(include_ids, dtype=np.int64))
    elif exclude_ids is not None and len(exclude_ids):
        sel = faiss.IDSelectorNot(faiss.IDSelectorBatch(exclude_ids))
    ivf = faiss.try_extract_index_ivf(index)
    params: Any = None
    if ivf is not None:
        params = faiss.SearchParametersIVF(sel=sel, nprobe=nprobe or ivf.nprobe)  # type: ignore[call-arg]
    elif sel is not None:
        params = faiss.SearchParameters(sel=sel)  # type: ignore[call-arg]
    q = np.ascontiguousarray(queries, dtype=np.float32)
    scores, ids = index.search(q, k, params=params) if params is not None else index.search(q, k)
    return scores, ids


def write(index: Any, path: Path) -> None:
    atomic_write_path(path, lambda tmp: faiss.write_index(index, str(tmp)))


def read(path: Path) -> Any:
    return faiss.read_index(str(path))
