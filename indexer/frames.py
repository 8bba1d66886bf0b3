"""Frame store: each stem's frame sequence [T, frame_dim] for alignment, compact and memory-mapped.

Frames are kept as float16 (unit-norm rows lose < 1e-3 per value): at the default frame_dim 128 and one frame
per 160 ms that is 128 x 2 B x 6.25 /s = 96 KB per minute of audio. A store is a list of immutable packs,
one per published build, each two `.npy` files written atomically:
  frames-<build>.npy      float16 [N_frames, frame_dim]   (memory-mapped when read)
  frames-<build>.ids.npy  int64   [N_stems, 3]            (stem id, first row, row count)
"""

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from model.files import atomic_write, atomic_write_path

FRAME_DTYPE = np.float16


def pack_paths(index_dir: Path, name: str) -> tuple[Path, Path]:
    return index_dir / f"{name}.npy", index_dir / f"{name}.ids.npy"


def write_pack(index_dir: Path, name: str, items: Iterable[tuple[int, np.ndarray]], total_rows: int,
               frame_dim: int, dtype: type = FRAME_DTYPE) -> int:
    """Writes one pack from `items` (stem id, rows [T, frame_dim]) holding `total_rows` rows in all, stored
    as `dtype` (the analysis packs reuse this format for their sequences).

    Rows stream into a memory-mapped temporary file, so a pack may be larger than memory. Returns the
    number of stems written.
    """
    data_path, ids_path = pack_paths(index_dir, name)
    table: list[tuple[int, int, int]] = []

    def fill(tmp: Path) -> None:
        data = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=(total_rows, frame_dim))
        row = 0
        for stem_id, frames in items:
            if frames.ndim != 2 or frames.shape[1] != frame_dim:
                raise ValueError(f"frames of stem {stem_id} have shape {frames.shape}, expected [T, {frame_dim}]")
            data[row : row + len(frames)] = frames
            table.append((int(stem_id), row, len(frames)))
            row += len(frames)
        if row != total_rows:
            raise ValueError(f"pack {name}: {row} frames written, {total_rows} announced")
        data.flush()
        del data

    atomic_write_path(data_path, fill)
    ids = np.array(table, dtype=np.int64).reshape(-1, 3)
    # Data before table: a table never points into a pack that is not complete.
    atomic_write(ids_path, lambda f: np.save(f, ids))
    return len(table)


def read_pack_ids(index_dir: Path, name: str) -> np.ndarray:
    """The stem ids [N] of one pack."""
    return np.load(pack_paths(index_dir, name)[1])[:, 0]


class FrameStore:
    """Read side: stem id -> float32 frames [T, frame_dim], from memory-mapped packs (later packs win)."""

    def __init__(self, index_dir: Path, names: Sequence[str], frame_dim: int, only: np.ndarray | None = None) -> None:
        """Opens packs `names`; with `only` (ids), other ids (removed stems still in old packs) are hidden."""
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
        table = table[last]
        if only is not None:
            table = table[np.isin(table[:, 0], only)]
        self._table = table

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

    def first_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids [N] ascending, the first row of each stem [N, frame_dim] float32), read into memory: the
        dense form of a store holding one row per stem."""
        rows = np.zeros((len(self._table), self.frame_dim), np.float32)
        for pack, data in enumerate(self._data):
            at = np.flatnonzero(self._table[:, 3] == pack)
            if len(at):
                rows[at] = data[self._table[at, 1]]
        return self._table[:, 0].copy(), rows
