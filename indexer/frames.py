"""Frame store: each stem's frame sequence [T, frame_dim] for alignment, compact and memory-mapped.

Frames are kept as 8-bit rows, each scaled by its own largest magnitude: a unit-norm row of 128 values loses
< 4e-3 per value and < 2e-3 in a cosine. At the default frame_dim 128 and one frame per 160 ms that is
(128 + 2) B x 6.25 /s = 2.9 MB per hour of audio (float16, format 1: 5.76 MB). A store is a list of immutable
packs, one per published build, each two `.npy` files written atomically:
  frames-<build>.npy      int8    [N_frames, frame_dim + 2]  row values, then the row's float16 scale in its
                                                              last two bytes (format 2; memory-mapped)
                          float16 [N_frames, frame_dim]      (format 1, still read)
  frames-<build>.ids.npy  int64   [N_stems, 3]            (stem id, first row, row count)
The format of a pack is its dtype, so a store may mix packs of both formats (old builds' packs stay as they
were until a rebuild rewrites them).
"""

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from indexer.errors import IndexMismatchError
from model.files import atomic_write, atomic_write_path

FRAME_DTYPE = np.int8  # new frame packs: scaled 8-bit rows (format 2)
QUANTISED = np.dtype(np.int8)
SCALE_BYTES = 2  # the float16 scale at the end of a quantised row
FRAME_FORMATS = {np.dtype(np.float16).name: 1, QUANTISED.name: 2}
READABLE = ("float16", "float32", "int8")  # row dtypes a pack may hold (the analysis packs keep float32 rows)


def quantise(rows: np.ndarray) -> np.ndarray:
    """Rows [T, D] float -> int8 [T, D + 2]: round(x / scale) with scale = max|x| / 127 per row, the scale as
    float16 bytes at the end (a zero row keeps scale 0)."""
    x = np.asarray(rows, dtype=np.float32)
    scale = (np.abs(x).max(axis=1) / 127.0).astype(np.float16) if x.size else np.zeros(len(x), np.float16)
    safe = np.where(scale > 0, scale.astype(np.float32), 1.0)[:, None]
    q = np.clip(np.rint(x / safe), -127, 127).astype(np.int8)
    return np.concatenate([q, scale.reshape(-1, 1).view(np.int8)], axis=1)


def dequantise(packed: np.ndarray) -> np.ndarray:
    """The inverse of `quantise`: int8 [T, D + 2] -> float32 [T, D]."""
    packed = np.asarray(packed)
    scale = np.ascontiguousarray(packed[:, -SCALE_BYTES:]).view(np.float16).astype(np.float32)  # [T, 1]
    return packed[:, :-SCALE_BYTES].astype(np.float32) * scale


def row_bytes(width: int, dtype: type | np.dtype) -> int:
    """Bytes one stored row of `width` values takes in a pack of `dtype`."""
    dt = np.dtype(dtype)
    return width + SCALE_BYTES if dt == QUANTISED else width * dt.itemsize


def pack_paths(index_dir: Path, name: str) -> tuple[Path, Path]:
    return index_dir / f"{name}.npy", index_dir / f"{name}.ids.npy"


def write_pack(index_dir: Path, name: str, items: Iterable[tuple[int, np.ndarray]], total_rows: int,
               frame_dim: int, dtype: type = FRAME_DTYPE) -> int:
    """Writes one pack from `items` (stem id, rows [T, frame_dim]) holding `total_rows` rows in all, stored
    as `dtype`: int8 quantises each row (`quantise`); the analysis packs reuse this format for their sequences.

    Rows stream into a memory-mapped temporary file, so a pack may be larger than memory. Returns the
    number of stems written.
    """
    data_path, ids_path = pack_paths(index_dir, name)
    table: list[tuple[int, int, int]] = []

    def fill(tmp: Path) -> None:
        quantised = np.dtype(dtype) == QUANTISED
        width = frame_dim + SCALE_BYTES if quantised else frame_dim
        data = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=(total_rows, width))
        row = 0
        for stem_id, frames in items:
            if frames.ndim != 2 or frames.shape[1] != frame_dim:
                raise ValueError(f"frames of stem {stem_id} have shape {frames.shape}, expected [T, {frame_dim}]")
            data[row : row + len(frames)] = quantise(frames) if quantised else frames
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
        for name, data in zip(names, self._data, strict=True):
            if data.dtype.name not in READABLE:
                raise IndexMismatchError("pack format", f"{name}: {data.dtype.name}", " or ".join(READABLE))
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
        return _as_float(self._data[pack][start : start + count])

    def first_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids [N] ascending, the first row of each stem [N, frame_dim] float32), read into memory: the
        dense form of a store holding one row per stem."""
        rows = np.zeros((len(self._table), self.frame_dim), np.float32)
        for pack, data in enumerate(self._data):
            at = np.flatnonzero(self._table[:, 3] == pack)
            if len(at):
                rows[at] = _as_float(data[self._table[at, 1]])
        return self._table[:, 0].copy(), rows


def _as_float(rows: np.ndarray) -> np.ndarray:
    """Stored rows of either format -> float32 [T, D]."""
    return dequantise(rows) if rows.dtype == QUANTISED else np.asarray(rows, dtype=np.float32)
