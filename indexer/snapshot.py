"""One published index build in memory: its manifest, per-instrument FAISS indexes, memory-mapped frame and
analysis packs, and the searchable ids. Immutable once loaded, so a request that holds a `Build` reads vectors,
frames and analyses of that one build from start to end, whatever is published meanwhile.

Instrument filtering is exact by construction: each instrument has its own index, so a filtered search
only ever scans that instrument's vectors (no over-fetching, and IVF lists hold nothing else to crowd out
the k results). An unfiltered search asks every instrument's index for k and merges by score.
"""

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from analysis.compatibility import Candidates, prepare
from analysis.signature import Signature
from indexer import vectors
from indexer.analyses import AnalysisStore
from indexer.errors import CatalogueNotFoundError
from indexer.frames import FrameStore, frame_codec
from indexer.manifest import check_model, require_manifest

log = logging.getLogger(__name__)

_NO_IDS = np.zeros(0, np.int64)


@dataclass(frozen=True)
class Hit:
    stem_id: int
    score: float  # inner product of unit vectors, higher is better


@dataclass(frozen=True)
class Build:
    """A published build: what the manifest names, loaded. Safe to share between threads."""

    manifest: dict[str, Any]
    indexes: dict[str, Any]  # instrument -> FAISS index
    nprobe: dict[str, int]
    frame_store: FrameStore
    analyses: AnalysisStore
    id_sets: dict[str, np.ndarray]  # instrument -> its searchable stem ids, ascending
    # What every query would otherwise recompute from the immutable build (per instrument: the musical
    # shortlist's prepared candidates, the flat index's vectors by id), made on first use.
    _memo: dict[tuple[Any, ...], Any] = field(default_factory=dict, compare=False, repr=False)
    _memo_lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    @classmethod
    def load(cls, index_dir: Path, checkpoint_hash: str | None = None,
             embedding_version: str | None = None) -> "Build":
        """Loads the build published in `index_dir`.

        Raises:
            CatalogueNotFoundError: no manifest, or a file it names is missing.
            IndexMismatchError: the build's checkpoint hash or embedding version differs from the ones given.
        """
        manifest = require_manifest(index_dir)
        check_model(manifest, checkpoint_hash, embedding_version)
        indexes, nprobe = {}, {}
        for inst, entry in manifest["instruments"].items():
            path = index_dir / entry["file"]
            if not path.is_file():
                raise CatalogueNotFoundError(f"manifest names {path}, which is missing")
            indexes[inst] = vectors.read(path)
            if entry.get("ivf"):
                nprobe[inst] = int(entry["ivf"]["nprobe"])
        live = np.concatenate([vectors.index_ids(i) for i in indexes.values()]) if indexes else _NO_IDS
        frame_dim = int(manifest["frame_dim"])
        frames = FrameStore(index_dir, manifest["frame_packs"], frame_dim, only=live, codec=frame_codec(frame_dim))
        analyses = AnalysisStore.open(index_dir, manifest, only=live)
        if len(analyses) < len(live):
            log.warning("build %s holds the musical analysis of %d of its %d stems; ranking uses the model alone "
                        "for the rest and their offsets are not refined: run `stemjepa index` again to analyse "
                        "them", manifest.get("build"), len(analyses), len(live))
        id_sets = {inst: np.sort(vectors.index_ids(idx)) for inst, idx in indexes.items()}
        return cls(manifest, indexes, nprobe, frames, analyses, id_sets)

    @property
    def number(self) -> int:
        """The manifest's build number (each publish adds one)."""
        return int(self.manifest["build"])

    @property
    def dim(self) -> int:
        return int(self.manifest["dim"])

    @property
    def instruments(self) -> list[str]:
        """Instruments with at least one indexed stem."""
        return sorted(i for i, idx in self.indexes.items() if idx.ntotal)

    def size(self, instrument: str | None = None) -> int:
        """Number of searchable stems (of `instrument`, or all)."""
        if instrument is not None:
            idx = self.indexes.get(instrument)
            return int(idx.ntotal) if idx is not None else 0
        return sum(int(idx.ntotal) for idx in self.indexes.values())

    def ids(self, instrument: str | None = None) -> np.ndarray:
        """Searchable stem ids [n] (of `instrument`, or all), ascending per instrument."""
        names = [instrument] if instrument is not None else list(self.id_sets)
        return np.concatenate([_NO_IDS, *(self.id_sets[n] for n in names if n in self.id_sets)])

    def search(self, vector: np.ndarray, k: int, instrument: str | None = None,
               exclude_ids: np.ndarray | None = None) -> list[Hit]:
        """The `k` stems whose vectors have the largest inner product with `vector` [dim], best first.

        `instrument` restricts the search to that instrument's stems (exactly); `exclude_ids` are never
        returned (filtered inside FAISS, so up to k hits still come back).
        """
        query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        if query.shape[1] != self.dim:
            raise ValueError(f"query vector has {query.shape[1]} dims, the index has {self.dim}")
        if k <= 0:
            return []
        names = [instrument] if instrument is not None else list(self.indexes)
        exclude = exclude_ids if exclude_ids is not None and len(exclude_ids) else None
        hits: list[Hit] = []
        for name in names:
            idx = self.indexes.get(name)
            if idx is None or idx.ntotal == 0:
                continue
            scores, ids = vectors.search(idx, query, min(k, idx.ntotal), exclude, self.nprobe.get(name))
            hits.extend(Hit(int(i), float(s)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0)
        hits.sort(key=lambda h: -h.score)
        return hits[:k]

    def frames(self, stem_id: int) -> np.ndarray:
        """The stem's frame sequence [T, frame_dim] float32 (unit rows, one per frame_seconds).

        Raises:
            KeyError: the build holds no frames for `stem_id`.
        """
        out = self.frame_store.get(int(stem_id))
        if out is None:
            raise KeyError(f"no frames for stem {stem_id} in build {self.number}")
        return out

    def analysed_stems(self, instrument: str | None = None,
                       exclude_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(ids [n], feature rows [n, F]) of every searchable analysed stem of `instrument` (or all), without
        `exclude_ids`: what a ranking by musical features alone scans (in memory)."""
        ids = self.ids(instrument)
        if exclude_ids is not None and len(exclude_ids):
            ids = ids[~np.isin(ids, exclude_ids)]
        rows, found = self.analyses.rows(ids)
        return ids[found], rows[found]

    def musical_candidates(self, instrument: str | None = None,
                           exclude_ids: np.ndarray | None = None) -> tuple[np.ndarray, Candidates]:
        """`analysed_stems` as the musical shortlist reads them (analysis.compatibility.prepare): prepared once
        per instrument and kept with the build, so a query scans them without copying or converting rows."""
        ids, table = self._cached(("musical", instrument), lambda: self._prepared(instrument))
        if exclude_ids is not None and len(exclude_ids):
            keep = ~np.isin(ids, exclude_ids)
            return ids[keep], table.subset(keep)
        return ids, table

    def _prepared(self, instrument: str | None) -> tuple[np.ndarray, Candidates]:
        ids, rows = self.analysed_stems(instrument)
        return ids, prepare(rows)

    def _cached(self, key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
        with self._memo_lock:  # one thread makes it; the others wait rather than make it again
            if key not in self._memo:
                self._memo[key] = make()
            return self._memo[key]

    def scores_of(self, vector: np.ndarray, stem_ids: Sequence[int], instrument: str | None = None) -> dict[int, float]:
        """The inner product of `vector` with each of `stem_ids` (of `instrument`, or any) that the index finds."""
        if not len(stem_ids):
            return {}
        query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        wanted = np.asarray(stem_ids, dtype=np.int64)
        out: dict[int, float] = {}
        for name in [instrument] if instrument is not None else list(self.indexes):
            idx = self.indexes.get(name)
            mine = wanted[np.isin(wanted, self.id_sets.get(name, _NO_IDS))]
            if idx is None or not len(mine):
                continue
            if vectors.is_ivf(idx):
                scores, ids = vectors.search(idx, query, len(mine), nprobe=self.nprobe.get(name), include_ids=mine)
                out.update((int(i), float(sc)) for sc, i in zip(scores[0], ids[0], strict=True) if i >= 0)
                continue
            # A flat index holds every vector: read the wanted rows directly instead of scanning them all.
            ids_sorted, order, data = self._cached(("flat", name), partial(_flat_by_id, idx))
            rows = order[np.searchsorted(ids_sorted, mine)]
            out.update(zip(mine.tolist(), (data[rows] @ query[0]).tolist(), strict=True))
        return out

    def analysis_rows(self, stem_ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Feature rows [n, F] (analysis.music.FEATURES) of `stem_ids` and a mask [n] of the analysed ones."""
        return self.analyses.rows(stem_ids)

    def signature(self, stem_id: int, stretch: float = 1.0) -> Signature | None:
        """The stem's alignment signature from the analysis packs (no audio is decoded), played `stretch` times
        faster (analysis.signature.stretched, its accents blurred once); None if unanalysed."""
        return self.analyses.signature(int(stem_id), stretch)

    def beats(self, stem_id: int) -> np.ndarray | None:
        """The stem's beat times [B] (s), or None if unanalysed."""
        return self.analyses.beats(int(stem_id))

    def analysed(self) -> int:
        """Number of searchable stems whose analysis the build holds."""
        return len(self.analyses)


def _flat_by_id(index: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids ascending [N], each one's row in the flat index [N], the index's vectors [N, D] float32, a view of
    its own storage: no copy, valid while the index lives, which a build's indexes do)."""
    ids, data = vectors.flat_storage(index)
    order = np.argsort(ids, kind="stable")
    return ids[order], order, data
