"""Frame store: each stem's frame sequence [T, frame_dim] for alignment, compact and memory-mapped.

Format 3 (new packs) keeps 96 values of each frame's fixed rotation at 2 bits (indexer.codecs.RotatedFrames,
`frame_codec`): 24 B a frame, 150 B/s at one frame per 160 ms, 0.54 MB per hour of audio. Format 2 kept
8-bit rows each scaled by its largest magnitude ((128 + 2) B x 6.25 /s = 2.9 MB/h), format 1 float16 rows (5.76 MB/h);
both are still read. A store is a list of immutable packs, one per published build, each of `.npy` files
written atomically, the id table last (so it never points into an incomplete pack):
  frames-<build>.npy         uint8   [N_rows, code_width]      codes (format 3; memory-mapped)
                             int8    [N_frames, frame_dim + 2] row values, then the row's float16 scale in
                                                               its last two bytes (format 2)
                             float16 [N_frames, frame_dim]     (format 1)
  frames-<build>.params.npy  float32 [N_stems, P]   each stem's codec parameters (format 3 only)
  frames-<build>.ids.npy     int64   [N_stems, 3]   (stem id, first row, row count)
The format of a pack is its dtype, so a store may mix packs of all formats (old builds' packs stay as they
were until a rebuild rewrites them). The analysis packs (indexer.analyses) share the layout with their own
codecs.
"""

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from indexer.codecs import CODE_DTYPE, Codec, RotatedFrames
from indexer.errors import IndexMismatchError
from model.files import atomic_write, atomic_write_path

QUANTISED = np.dtype(np.int8)
SCALE_BYTES = 2  # the float16 scale at the end of a quantised row
FRAME_FORMATS = {np.dtype(np.float16).name: 1, QUANTISED.name: 2, CODE_DTYPE.name: 3}
FRAME_FORMAT = 3  # what new frame packs are written in
READABLE = ("float16", "float32", "int8", "uint8")  # dtypes a pack may hold (analysis packs keep float32 rows)


FRAME_VALUES, FRAME_BITS = 96, 2  # rotated values a format 3 frame keeps, bits each: 24 bytes at frame_dim 128


def frame_codec(frame_dim: int) -> RotatedFrames:
    """The codec of format 3 frame packs: the first 96 values of the rotated frame at 2 bits. On development data
    (MUSDB train, scripts/alignment_sweep.py and the dev caches of scripts/alignment_long.py) the model's curve
    alone found as many offsets as from the 8-bit rows; with 1 bit a value (sign bits) it lost 1 to 4 points."""
    return RotatedFrames(frame_dim, FRAME_VALUES, FRAME_BITS)


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
    """Bytes one stored row of `width` values takes in a format 1 or 2 pack of `dtype`."""
    dt = np.dtype(dtype)
    return width + SCALE_BYTES if dt == QUANTISED else width * dt.itemsize


def pack_paths(index_dir: Path, name: str) -> tuple[Path, Path]:
    return index_dir / f"{name}.npy", index_dir / f"{name}.ids.npy"


def params_path(index_dir: Path, name: str) -> Path:
    """The per-stem codec parameters of a format 3 pack."""
    return index_dir / f"{name}.params.npy"


PACK_SUFFIXES = (".npy", ".params.npy", ".ids.npy")  # every file a pack may have


def is_coded(index_dir: Path, name: str) -> bool:
    """Whether a written pack is of store format 3 (codes with per-stem parameters)."""
    return params_path(index_dir, name).is_file()


def stored_rows(counts: Iterable[int], codec: Codec | None) -> int:
    """Rows a pack of stems with `counts` rows each stores (a codec may keep fewer, e.g. at half the rate)."""
    return sum(int(n) if codec is None else codec.rows(int(n)) for n in counts)


def write_pack(index_dir: Path, name: str, items: Iterable[tuple[int, np.ndarray]], total_rows: int,
               frame_dim: int, dtype: type = np.float32, codec: Codec | None = None) -> int:
    """Writes one pack from `items` (stem id, rows [T, frame_dim]) holding `total_rows` stored rows in all
    (`stored_rows`): with a `codec`, its codes (uint8) and per-stem parameters (format 3); else the rows as
    `dtype`, where int8 quantises each row (`quantise`, format 2).

    Rows stream into a memory-mapped temporary file, so a pack may be larger than memory. Returns the
    number of stems written.
    """
    data_path, ids_path = pack_paths(index_dir, name)
    table: list[tuple[int, int, int]] = []
    params: list[np.ndarray] = []

    def fill(tmp: Path) -> None:
        quantised = codec is None and np.dtype(dtype) == QUANTISED
        width = codec.code_width if codec else frame_dim + SCALE_BYTES if quantised else frame_dim
        data = np.lib.format.open_memmap(tmp, mode="w+", dtype=CODE_DTYPE if codec else dtype,
                                         shape=(total_rows, width))
        row = 0
        for stem_id, frames in items:
            if frames.ndim != 2 or frames.shape[1] != frame_dim:
                raise ValueError(f"frames of stem {stem_id} have shape {frames.shape}, expected [T, {frame_dim}]")
            if codec is not None:
                rows, stem_params = codec.encode(frames)
                params.append(stem_params)
            else:
                rows = quantise(frames) if quantised else frames
            if row + len(rows) > total_rows:
                raise ValueError(f"pack {name}: more than the {total_rows} rows announced")
            data[row : row + len(rows)] = rows
            table.append((int(stem_id), row, len(rows)))
            row += len(rows)
        if row != total_rows:
            raise ValueError(f"pack {name}: {row} rows written, {total_rows} announced")
        data.flush()
        del data

    atomic_write_path(data_path, fill)
    if codec is not None:
        stacked = np.array(params, dtype=np.float32).reshape(len(table), codec.params)
        atomic_write(params_path(index_dir, name), lambda f: np.save(f, stacked))
    ids = np.array(table, dtype=np.int64).reshape(-1, 3)
    # Data and parameters before table: a table never points into a pack that is not complete.
    atomic_write(ids_path, lambda f: np.save(f, ids))
    return len(table)


def read_pack_ids(index_dir: Path, name: str) -> np.ndarray:
    """The stem ids [N] of one pack."""
    return np.load(pack_paths(index_dir, name)[1])[:, 0]


class FrameStore:
    """Read side: stem id -> float32 frames [T, frame_dim], from memory-mapped packs (later packs win)."""

    def __init__(self, index_dir: Path, names: Sequence[str], frame_dim: int, only: np.ndarray | None = None,
                 codec: Codec | None = None) -> None:
        """Opens packs `names`; with `only` (ids), other ids (removed stems still in old packs) are hidden.
        `codec` decodes the format 3 packs among them (without one, such a pack is refused)."""
        self.frame_dim = frame_dim
        self._codec = codec
        self._data = [np.load(pack_paths(index_dir, n)[0], mmap_mode="r") for n in names]
        self._params: list[np.ndarray | None] = []
        for name, data in zip(names, self._data, strict=True):
            if data.dtype.name not in READABLE or (data.dtype == CODE_DTYPE and codec is None):
                raise IndexMismatchError("pack format", f"{name}: {data.dtype.name}", " or ".join(READABLE))
            coded = data.dtype == CODE_DTYPE
            self._params.append(np.load(params_path(index_dir, name)) if coded else None)
        tables = [np.load(pack_paths(index_dir, n)[1]) for n in names]
        if tables:  # columns: id, first row, row count, pack, position in the pack's table
            table = np.concatenate([np.column_stack([t, np.full(len(t), i), np.arange(len(t))])
                                    for i, t in enumerate(tables)])
        else:
            table = np.zeros((0, 5), np.int64)
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
        _, start, count, pack, at = (int(v) for v in row)
        rows = self._data[pack][start : start + count]
        params = self._params[pack]
        if params is not None and self._codec is not None:
            return self._codec.decode(rows, params[at])
        return _as_float(rows)

    def first_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids [N] ascending, the first row of each stem [N, frame_dim] float32), read into memory: the
        dense form of a store holding one row per stem."""
        rows = np.zeros((len(self._table), self.frame_dim), np.float32)
        for pack, data in enumerate(self._data):
            at = np.flatnonzero(self._table[:, 3] == pack)
            if not len(at):
                continue
            if self._params[pack] is not None:
                for i in at:
                    got = self.get(int(self._table[i, 0]))
                    rows[i] = got[0] if got is not None and len(got) else 0.0
            else:
                rows[at] = _as_float(data[self._table[at, 1]])
        return self._table[:, 0].copy(), rows


def _as_float(rows: np.ndarray) -> np.ndarray:
    """Stored rows of format 1 or 2 (or float32) -> float32 [T, D]."""
    return dequantise(rows) if rows.dtype == QUANTISED else np.asarray(rows, dtype=np.float32)
