"""Durable batches ("chunks") of embedded stems, written before their SQL rows are marked indexed.

The commit protocol of a run: embed a batch -> write `chunks/chunk-*.npz` atomically (ids, vectors, frames,
facts) -> mark those SQL rows 'indexed'. A kill between the two leaves a chunk whose rows are still
'pending'; the next run rolls them forward from the chunk. Publishing folds chunks into the FAISS indexes
and a frame pack, writes the manifest, and only then deletes the chunks.
"""

import io
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.files import atomic_write_bytes

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

    def __len__(self) -> int:
        return len(self.ids)


def chunk_dir(index_dir: Path) -> Path:
    return Path(index_dir) / CHUNK_DIR


def write_chunk(index_dir: Path, chunk: Chunk) -> Path:
    """Writes `chunk` durably as chunk-<time ns>.npz (names sort by age); returns its path."""
    counts = np.array([len(f) for f in chunk.frames], dtype=np.int64)
    frames = np.concatenate(chunk.frames).astype(np.float16)
    buf = io.BytesIO()
    np.savez(buf, ids=chunk.ids.astype(np.int64), vectors=chunk.vectors.astype(np.float32), counts=counts,
             frames=frames, sha256=np.array(chunk.sha256), duration=chunk.duration_seconds.astype(np.float64),
             sample_rate=chunk.sample_rate.astype(np.int64), checkpoint=np.array(chunk.checkpoint_hash))
    path = chunk_dir(index_dir) / f"chunk-{time.time_ns():020d}.npz"
    atomic_write_bytes(path, buf.getvalue())
    return path


def read_chunk(path: Path, arrays: bool = True) -> Chunk:
    """Reads a chunk; with `arrays` False only ids and facts (vectors and frames come back empty)."""
    with np.load(path) as z:
        counts = z["counts"]
        vectors = z["vectors"] if arrays else np.zeros((0, 0), np.float32)
        frames: list[np.ndarray] = []
        if arrays and len(counts):
            frames = list(np.split(z["frames"].astype(np.float32), np.cumsum(counts)[:-1]))
        return Chunk(z["ids"], vectors, frames, [str(s) for s in z["sha256"]], z["duration"], z["sample_rate"],
                     str(z["checkpoint"]), counts)


def chunk_ids(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(ids [N], frame counts [N]) of a chunk, without reading its vectors or frames."""
    with np.load(path) as z:
        return z["ids"], z["counts"]


def list_chunks(index_dir: Path) -> list[Path]:
    folder = chunk_dir(index_dir)
    return sorted(folder.glob("chunk-*.npz")) if folder.is_dir() else []
