"""Durable batches ("chunks") of embedded stems, written before their SQL rows are marked indexed.

The commit protocol of a run: embed a batch -> write `chunks/chunk-*.npz` atomically (ids, vectors, frames,
facts) -> mark those SQL rows 'indexed'. A kill between the two leaves a chunk whose rows are still
'pending'; the next run rolls them forward from the chunk. Publishing folds chunks into the FAISS indexes
and a frame pack, writes the manifest, and only then deletes the chunks.
"""

import io
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.files import atomic_write

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
    atomic_write(path, lambda f: f.write(buf.getbuffer()))
    return path


def read_chunk(path: Path) -> Chunk:
    with np.load(path) as z:
        counts = z["counts"]
        frames = np.split(z["frames"].astype(np.float32), np.cumsum(counts)[:-1]) if len(counts) else []
        return Chunk(z["ids"], z["vectors"], list(frames), [str(s) for s in z["sha256"]], z["duration"],
                     z["sample_rate"], str(z["checkpoint"]))


def list_chunks(index_dir: Path) -> list[Path]:
    folder = chunk_dir(index_dir)
    return sorted(folder.glob("chunk-*.npz")) if folder.is_dir() else []


def merge(chunks: Sequence[Chunk]) -> Chunk | None:
    """One chunk holding all of `chunks` (a later chunk wins for a repeated id)."""
    if not chunks:
        return None
    latest: dict[int, tuple[int, int]] = {}
    for ci, c in enumerate(chunks):
        for j, sid in enumerate(c.ids.tolist()):
            latest[int(sid)] = (ci, j)
    keys = sorted(latest)
    pick = [latest[k] for k in keys]
    return Chunk(
        np.array(keys, dtype=np.int64),
        np.stack([chunks[ci].vectors[j] for ci, j in pick]) if pick else np.zeros((0, 0), np.float32),
        [chunks[ci].frames[j] for ci, j in pick],
        [chunks[ci].sha256[j] for ci, j in pick],
        np.array([chunks[ci].duration_seconds[j] for ci, j in pick], dtype=np.float64),
        np.array([chunks[ci].sample_rate[j] for ci, j in pick], dtype=np.int64),
        chunks[-1].checkpoint_hash,
    )
