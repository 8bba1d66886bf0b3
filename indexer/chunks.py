"""Durable batches ("chunks") of embedded and analysed stems, written before their SQL rows say so.

The commit protocol of a run: embed and analyse a batch -> write `chunks/chunk-*.npz` atomically (ids,
vectors, frames, analyses, facts) -> mark those SQL rows 'indexed' with their analysis. A kill between the
two leaves a chunk whose rows still say otherwise; the next run rolls them forward from the chunk.
Publishing folds chunks into the FAISS indexes, a frame pack and the analysis packs, writes the manifest,
and only then deletes the chunks. A stem that was embedded before and only analysed now is in a chunk with
`embedded` False: a zero vector and no frames, which publishing does not fold. A chunk of a rebuild carries
the rebuild's generation (indexer.generation); other chunks carry an empty one.
"""

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from analysis.music import FEATURES, StoredAnalysis
from model.files import atomic_write_bytes

CHUNK_DIR = "chunks"


@dataclass(frozen=True)
class Chunk:
    """Embedded stems: ids [N], vectors [N, D] float32, frames[i] [T_i, frame_dim], and decode facts."""

    ids: np.ndarray
    vectors: np.ndarray
    frames: list[np.ndarray]
    sha256: list[str]
    duration_seconds: np.ndarray
    sample_rate: np.ndarray
    checkpoint_hash: str
    frame_counts: np.ndarray | None = None
    embedded: np.ndarray | None = None  # [N] bool; None = all (chunks of releases before analysis)
    analyses: list[StoredAnalysis | None] | None = None  # per stem; None = not read or not stored
    analysis_version: int | None = None
    generation: str = ""  # the rebuild generation that wrote it ("" outside rebuilds)

    def __len__(self) -> int:
        return len(self.ids)

    def is_embedded(self) -> np.ndarray:
        return np.ones(len(self.ids), dtype=bool) if self.embedded is None else self.embedded

    def has_analysis(self) -> np.ndarray:
        """[N] bool: whether each stem's analysis is in the chunk."""
        if self.analyses is None:
            return np.zeros(len(self.ids), dtype=bool)
        return np.array([a is not None for a in self.analyses], dtype=bool)


def _ragged(arrays: list[np.ndarray], width: int, dtype: type) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated rows [sum, width] and row counts [N] of per-stem arrays [T_i, width]."""
    counts = np.array([len(a) for a in arrays], dtype=np.int64)
    data: np.ndarray = np.concatenate(arrays).astype(dtype) if arrays and counts.sum() else np.zeros((0, width), dtype)
    return data.reshape(-1, width), counts


def _split(data: np.ndarray, counts: np.ndarray) -> list[np.ndarray]:
    return list(np.split(data, np.cumsum(counts)[:-1])) if len(counts) else []


def _analysis_arrays(chunk: Chunk) -> dict[str, np.ndarray]:
    analyses = chunk.analyses or [None] * len(chunk)
    present = np.array([a is not None for a in analyses], dtype=bool)
    features = np.zeros((len(chunk), FEATURES.width), np.float32)
    onsets, chroma, beats = [], [], []
    for i, a in enumerate(analyses):
        if a is not None:
            features[i] = a.features
        onsets.append(a.onsets if a is not None else np.zeros((0, 5), np.float16))
        chroma.append(a.chroma if a is not None else np.zeros((0, 12), np.float16))
        beats.append(a.beats if a is not None else np.zeros((0, 1), np.float32))
    out = {"has_analysis": present, "features": features, "analysis_version": np.array(chunk.analysis_version or 0)}
    for name, arrays, width, dtype in (("onsets", onsets, 5, np.float16), ("chroma", chroma, 12, np.float16),
                                       ("beats", beats, 1, np.float32)):
        out[name], out[f"{name}_counts"] = _ragged(arrays, width, dtype)
    return out


def _read_analyses(z: np.lib.npyio.NpzFile) -> list[StoredAnalysis | None]:
    parts = {name: _split(z[name], z[f"{name}_counts"]) for name in ("onsets", "chroma", "beats")}
    return [StoredAnalysis(z["features"][i], parts["onsets"][i], parts["chroma"][i], parts["beats"][i])
            if present else None for i, present in enumerate(z["has_analysis"])]


def chunk_dir(index_dir: Path) -> Path:
    return Path(index_dir) / CHUNK_DIR


def write_chunk(index_dir: Path, chunk: Chunk) -> Path:
    """Writes `chunk` durably as chunk-<time ns>.npz (names sort by age); returns its path."""
    frame_dim = chunk.frames[0].shape[1] if chunk.frames else 0
    frames, counts = _ragged(chunk.frames, frame_dim, np.float16)
    arrays: dict[str, Any] = {
        "ids": chunk.ids.astype(np.int64), "vectors": chunk.vectors.astype(np.float32), "counts": counts,
        "frames": frames, "sha256": np.array(chunk.sha256), "duration": chunk.duration_seconds.astype(np.float64),
        "sample_rate": chunk.sample_rate.astype(np.int64), "checkpoint": np.array(chunk.checkpoint_hash),
        "embedded": chunk.is_embedded(), "generation": np.array(chunk.generation), **_analysis_arrays(chunk),
    }
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path = chunk_dir(index_dir) / f"chunk-{time.time_ns():020d}.npz"
    atomic_write_bytes(path, buf.getvalue())
    return path


def read_chunk(path: Path, arrays: bool = True) -> Chunk:
    """Reads a chunk; with `arrays` False only ids and facts (vectors, frames and analysis arrays come back
    empty, but the analyses' feature rows, whose facts SQL keeps, are read)."""
    with np.load(path) as z:
        counts = z["counts"]
        vectors = z["vectors"] if arrays else np.zeros((0, 0), np.float32)
        frames = _split(z["frames"].astype(np.float32), counts) if arrays else []
        embedded = z.get("embedded", None)
        analyses: list[StoredAnalysis | None] | None = None
        version = int(z["analysis_version"]) if "analysis_version" in z else None
        if "has_analysis" in z:
            if arrays:
                analyses = _read_analyses(z)
            else:
                empty = (np.zeros((0, 5), np.float16), np.zeros((0, 12), np.float16), np.zeros((0, 1), np.float32))
                analyses = [StoredAnalysis(z["features"][i], *empty) if present else None
                            for i, present in enumerate(z["has_analysis"])]
        generation = str(z["generation"]) if "generation" in z else ""
        return Chunk(z["ids"], vectors, frames, [str(s) for s in z["sha256"]], z["duration"], z["sample_rate"],
                     str(z["checkpoint"]), counts, embedded, analyses, version, generation)


def chunk_ids(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids [N], frame counts [N], embedded [N] bool) of a chunk, without reading its vectors or frames."""
    with np.load(path) as z:
        embedded = z["embedded"] if "embedded" in z else np.ones(len(z["ids"]), dtype=bool)
        return z["ids"], z["counts"], embedded


ANALYSIS_KINDS = ("features", "onsets", "chroma", "beats")


def chunk_analysis_index(path: Path) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(ids [N], has_analysis [N], kind -> row counts [N]) of a chunk, without reading its arrays; a chunk
    of a release before analyses has none."""
    with np.load(path) as z:
        ids = z["ids"]
        if "has_analysis" not in z:
            return ids, np.zeros(len(ids), dtype=bool), {k: np.zeros(len(ids), np.int64) for k in ANALYSIS_KINDS}
        present = z["has_analysis"]
        counts = {k: z[f"{k}_counts"] for k in ANALYSIS_KINDS if k != "features"}
        return ids, present, {"features": present.astype(np.int64), **counts}


def chunk_analysis_rows(path: Path, kind: str, positions: list[int]) -> Iterator[tuple[int, np.ndarray]]:
    """(stem id, rows) of one analysis kind for the chunk's stems at `positions`."""
    with np.load(path) as z:
        ids = z["ids"]
        if kind == "features":
            data = z["features"]
            for j in positions:
                yield int(ids[j]), data[j : j + 1]
            return
        data, counts = z[kind], z[f"{kind}_counts"]
        starts = np.concatenate([[0], np.cumsum(counts)])
        for j in positions:
            yield int(ids[j]), data[starts[j] : starts[j + 1]]


def list_chunks(index_dir: Path) -> list[Path]:
    folder = chunk_dir(index_dir)
    return sorted(folder.glob("chunk-*.npz")) if folder.is_dir() else []
