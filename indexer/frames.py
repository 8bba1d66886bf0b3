"""Frame store: each stem's frame sequence [T, frame_dim] for alignment, compact and memory-mapped.

Frames are kept as float16 (unit-norm rows lose < 1e-3 per value): at the default frame_dim 128 and one frame
per 160 ms that is 128 x 2 B x 6.25 /s = 96 KB per minute of audio. A store is a list of immutable packs,
one per published build, each two `.npy` files written atomically:
  frames-<build>.npy      float16 [N_frames, frame_dim]   (memory-mapped when read)
  frames-<build>.ids.npy  int64   [N_stems, 3]            (stem id, first row, row count)
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from indexer.files import atomic_write

FRAME_DTYPE = np.float16


def pack_paths(index_dir: Path, name: str) -> tuple[Path, Path]:
    return index_dir / f"{name}.npy", index_dir / f"{name}.ids.npy"


def write_pack(index_dir: Path, name: str, ids: Sequence[int], frames: Sequence[np.ndarray], frame_dim: int) -> None:
    """Writes one pack of `frames[i]` ([T_i, frame_dim]) addressed by `ids[i]`."""
    if len(ids) != len(frames):
        raise ValueError("one frame sequence per id")
    counts = np.array([len(f) for f in frames], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64) if len(counts) else counts
    table = np.stack([np.asarray(ids, dtype=np.int64), offsets, counts], axis=1) if len(ids) else np.zeros((0, 3), np.int64)
    data = (np.concatenate(frames).astype(FRAME_DTYPE) if frames else np.zeros((0, frame_dim), FRAME_DTYPE))
    if data.shape[1] != frame_dim:
        raise ValueError(f"frames have width {data.shape[1]}, expected {frame_dim}")
    data_path, ids_path = pack_paths(index_dir, name)
    # Data before table: a table never points into a pack that is not complete.
    atomic_write(data_path, lambda f: np.save(f, data))
    atomic_write(ids_path, lambda f: np.save(f, table))


def read_pack_ids(index_dir: Path, name: str) -> np.ndarray:
    """The stem ids [N] of one pack."""
    return np.load(pack_paths(index_dir, name)[1])[:, 0]


class FrameStore:
    """Read side: stem id -> float32 frames [T, frame_dim], from memory-mapped packs (later packs win)."""

    def __init__(self, index_dir: Path, names: Sequence[str], frame_dim: int) -> None:
        self.frame_dim = frame_dim
        self._data = [np.load(pack_paths(index_dir, n)[0], mmap_mode="r") for n in names]
        tables = [np.load(pack_paths(index_dir, n)[1]) for n in names]
        if tables:
            table = np.concatenate([np.column_stack([t, np.full(len(t), i)]) for i, t in enumerate(tables)])
        else:
            table = np.zeros((0, 4), np.int64)
        # Sort by (id, pack) and keep the last row per id, so a re-packed id reads from its newest pack.
        order = np.lexsort((table[:, 3], table[:, 0]))
        table = table[order]
        last = np.ones(len(table), dtype=bool)
        last[:-1] = table[1:, 0] != table[:-1, 0]
        self._table = table[last]

    def __len__(self) -> int:
        return len(self._table)

    def __contains__(self, stem_id: object) -> bool:
        return isinstance(stem_id, int | np.integer) and self._row(int(stem_id)) is not None

    def ids(self) -> np.ndarray:
        return self._table[:, 0].copy()

    def _row(self, stem_id: int) -> np.ndarray | None:
        i = int(np.searchsorted(self._table[:, 0], stem_id))
        if i < len(self._table) and self._table[i, 0] == stem_id:
            return self._table[i]
        return None

    def get(self, stem_id: int) -> np.ndarray | None:
        """Frames [T, frame_dim] float32 of `stem_id`, or None when the store does not hold it."""
        row = self._row(stem_id)
        if row is None:
            return None
        _, start, count, pack = (int(v) for v in row)
        return np.asarray(self._data[pack][start : start + count], dtype=np.float32)
