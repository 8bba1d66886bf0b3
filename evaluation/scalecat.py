"""Simulated catalogues of 1k / 10k / 100k stems in the index's real on-disk format, for `stemjepa bench`'s
scale part (evaluation.servebench.scale_latency): a manifest, one flat FAISS index per instrument, frame packs
and analysis packs (features, onsets, chroma) read back by the real `indexer.snapshot.Build`.

What is real and what is simulated:
- real: the file formats and the whole read path (Build.load, FrameStore, AnalysisStore, memory-mapped packs,
  Signature.from_stored), the stems' length (3 minutes: 1125 frames, 18 000 onset rows, 4500 chroma rows), and
  the onset envelopes and chroma: the analysis of real stems (`source`, e.g. the four stems of
  extra/trackswitch-demo), tiled to the stem length and rolled by a random shift per simulated stem;
- simulated: the vectors (clustered unit vectors, evaluation.faissbench), the feature rows (random tempo, key
  and tempogram: evaluation.servebench's), the frames (random unit rows; alignment cost depends on their shape,
  not their values), and the metadata (no SQL: records are made up from the id).
- shared: `pool` distinct stems' sequences are written once per format; the id tables of larger catalogues
  point stem i at pool sequence i mod pool (the id table is the format's own indirection), so a 100k
  catalogue's packs hold pool x 3 minutes of rows, not 100k x. Each query reads k hits' rows, so with pool much
  larger than k a cold query still reads k distinct extents from disk.

"Cold" is made with posix_fadvise(DONTNEED) on every pack file (the page cache forgets them; no root needed).
"""

import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analysis.chroma import CHROMA_HOP_STEPS, ONSET_HOP_SECONDS
from indexer import vectors
from indexer.analyses import CODECS
from indexer.codecs import Codec
from indexer.frames import frame_codec, is_coded, pack_paths, params_path, stored_rows, write_pack
from indexer.manifest import FORMAT, write_manifest

log = logging.getLogger(__name__)

# store format 3 (codes, indexer.codecs), 2 (8-bit rows) and 1 (float16 rows)
FORMATS: dict[str, type | None] = {"format3": None, "int8": np.int8, "float16": np.float16}


@dataclass(frozen=True)
class RealRows:
    """Onset rows [N, 5] and chroma rows [M, 12] of a few real stems (float32)."""

    onsets: list[np.ndarray]
    chroma: list[np.ndarray]
    names: list[str]


def real_rows(source: Path | None, sample_rate: int = 16_000, seconds: float = 180.0) -> RealRows:
    """The stored signature rows of every audio file in `source` (their analysis, as indexing computes it);
    without a source, synthesised ones (a 120 BPM pulse envelope and a slowly turning chroma) of `seconds`."""
    if source is not None:
        from analysis.music import analyse
        from model.audio import load_mono

        files = sorted(p for p in Path(source).iterdir() if p.suffix.lower() in {".mp3", ".flac", ".wav", ".ogg"})
        if not files:
            raise FileNotFoundError(f"no audio files in {source}")
        onsets, chroma = [], []
        for f in files:
            stored = analyse(load_mono(f, sample_rate), sample_rate).stored()
            onsets.append(stored.onsets.astype(np.float32))
            chroma.append(stored.chroma.astype(np.float32))
        return RealRows(onsets, chroma, [f.name for f in files])
    rng = np.random.default_rng(0)
    n = int(seconds / ONSET_HOP_SECONDS)
    pulse = (np.arange(n) % 50 == 0).astype(np.float32)
    bands = np.stack([np.convolve(pulse, np.exp(-np.arange(8) / 2.0), "same") + 0.1 * rng.standard_normal(n)
                    for _ in range(5)], axis=1)
    bands = (bands - bands.mean(0)) / bands.std(0)
    m = n // CHROMA_HOP_STEPS
    tones = np.abs(rng.standard_normal((m, 12))).cumsum(0) % 1.0
    tones /= np.linalg.norm(tones, axis=1, keepdims=True)
    return RealRows([bands.astype(np.float32)], [tones.astype(np.float32)], ["synthesised"])


def _tiled(rows: np.ndarray, length: int, shift: int) -> np.ndarray:
    return np.roll(np.resize(rows, (length, rows.shape[1])), shift, axis=0)


@dataclass(frozen=True)
class PoolLayout:
    frames: int  # rows per stem
    onsets: int
    chroma: int


def layout(stem_seconds: float, frame_seconds: float) -> PoolLayout:
    n_on = round(stem_seconds / ONSET_HOP_SECONDS)
    return PoolLayout(int(np.ceil(stem_seconds / frame_seconds)), n_on, n_on // CHROMA_HOP_STEPS)


def write_pool(root: Path, rows: RealRows, pool: int, frame_dim: int, lay: PoolLayout, fmt: str,
               seed: int = 0) -> dict[str, str]:
    """Writes the pool's frame, onset and chroma packs of one format under root/pool-<fmt>; kind -> pack name."""
    folder = root / f"pool-{fmt}"
    folder.mkdir(parents=True, exist_ok=True)
    dtype = FORMATS[fmt]
    names = {"frames": "frames-pool", "onsets": "onsets-pool", "chroma": "chroma-pool"}
    if all(pack_paths(folder, n)[0].is_file() for n in names.values()):
        return names
    rng = np.random.default_rng([seed, 1])
    shifts = rng.integers(0, lay.onsets, pool)

    def frames() -> Iterator[tuple[int, np.ndarray]]:
        g = np.random.default_rng([seed, 2])  # the same frames for every format
        for i in range(pool):
            x = g.standard_normal((lay.frames, frame_dim)).astype(np.float32)
            yield i, x / np.linalg.norm(x, axis=1, keepdims=True)

    def onsets() -> Iterator[tuple[int, np.ndarray]]:
        for i in range(pool):
            yield i, _tiled(rows.onsets[i % len(rows.onsets)], lay.onsets, int(shifts[i]))

    def chroma() -> Iterator[tuple[int, np.ndarray]]:
        for i in range(pool):
            src = rows.chroma[i % len(rows.chroma)]
            yield i, _tiled(src, lay.chroma, int(shifts[i]) // CHROMA_HOP_STEPS)

    codecs: dict[str, Codec | None] = {"frames": frame_codec(frame_dim), **CODECS} if dtype is None else {}
    counts = {"frames": lay.frames, "onsets": lay.onsets, "chroma": lay.chroma}
    for kind, items, width in (("frames", frames(), frame_dim), ("onsets", onsets(), rows.onsets[0].shape[1]),
                               ("chroma", chroma(), 12)):
        codec = codecs.get(kind)
        write_pack(folder, names[kind], items, stored_rows([counts[kind]] * pool, codec), width, dtype or np.int8,
                   codec)
    return names


def pointing_table(pool_table: np.ndarray, n: int) -> np.ndarray:
    """Id table of n stems, stem i reading pool sequence i mod pool."""
    ids = np.arange(n, dtype=np.int64)
    src = pool_table[ids % len(pool_table)]
    return np.column_stack([ids, src[:, 1], src[:, 2]]).astype(np.int64)


def write_catalogue(root: Path, n: int, fmt: str, pool_names: dict[str, str], dim: int, frame_dim: int,
                    instruments: Sequence[str], features: np.ndarray, vector_dir: Path) -> Path:
    """One build folder root/cat-<n>-<fmt>: its manifest, id tables pointing into the format's pool packs
    (the data linked, not copied), a features pack, and the shared FAISS files of vector_dir."""
    folder = root / f"cat-{n}-{fmt}"
    folder.mkdir(parents=True, exist_ok=True)
    pool_dir = root / f"pool-{fmt}"
    packs: dict[str, str] = {}
    for kind, name in pool_names.items():
        data, ids = pack_paths(folder, f"{kind}-{n}")
        if not data.exists():
            data.symlink_to(pack_paths(pool_dir, name)[0].resolve())
        np.save(ids, pointing_table(np.load(pack_paths(pool_dir, name)[1]), n))
        if is_coded(pool_dir, name):  # format 3: each stem's codec parameters, by its position in the id table
            pool_params = np.load(params_path(pool_dir, name))
            np.save(params_path(folder, f"{kind}-{n}"), pool_params[np.arange(n) % len(pool_params)])
        packs[kind] = f"{kind}-{n}"
    if not pack_paths(folder, "features")[0].is_file():
        write_pack(folder, "features", ((i, features[i : i + 1]) for i in range(n)), n, features.shape[1], np.float32)
    manifest = {
        "build": 1, "dim": dim, "frame_dim": frame_dim, "frame_packs": [packs["frames"]],
        "instruments": {inst: {"file": os.path.relpath(vector_dir / f"{inst}.faiss", folder)} for inst in instruments},
        "analysis_packs": {"features": ["features"], "onsets": [packs["onsets"]], "chroma": [packs["chroma"]],
                           "beats": []},
        "simulated": "vectors, features, frames and metadata; onsets/chroma real rows, tiled and rolled",
    }
    # Packs of store formats 1 and 2 under a format 1 manifest, which readers of earlier releases accept too
    # (scripts/scale_ab.py serves these catalogues from an older checkout); format 3 packs need format 2.
    write_manifest(folder, manifest, FORMAT if FORMATS[fmt] is None else 1)
    return folder


def tiled_stereo(wave: np.ndarray, n: int, start: int) -> np.ndarray:
    """[n, 2] stereo of a mono `wave` rolled to begin at `start` and tiled to n samples; the right channel a
    little quieter and 7 samples late (two unequal channels, as a mix has), within [-1, 1]."""
    tiled = np.resize(np.roll(wave, -start), n)
    return np.clip(np.stack([tiled, 0.9 * np.roll(tiled, 7)], axis=1), -1, 1)


def write_vectors(folder: Path, data: np.ndarray, instruments: Sequence[str]) -> None:
    """One flat inner-product index per instrument; stem i belongs to instrument i mod len(instruments)."""
    folder.mkdir(parents=True, exist_ok=True)
    ids = np.arange(len(data), dtype=np.int64)
    for j, inst in enumerate(instruments):
        index = vectors.new_flat(data.shape[1])
        mine = ids % len(instruments) == j
        vectors.add(index, ids[mine], data[mine])
        vectors.write(index, folder / f"{inst}.faiss")


def drop_cached(folder: Path, pattern: str = "*.npy") -> int:
    """Asks the kernel to forget the page cache of every file matching `pattern` under `folder` (by default
    the pack files; links followed); the bytes."""
    total = 0
    for path in folder.rglob(pattern):
        fd = os.open(path.resolve(), os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            total += size
        finally:
            os.close(fd)
    return total


def pack_bytes(folder: Path, stems: int, pool: int) -> dict[str, float]:
    """Bytes per stem of each kind of pack a build folder reads (the pool's data over its distinct stems, the
    per-stem codec parameters of format 3 over the folder's stems)."""
    out: dict[str, float] = {}
    for path in sorted(folder.glob("*.npy")):
        if path.name.endswith(".ids.npy"):
            continue
        kind = path.name.split("-")[0].removesuffix(".npy")
        per = path.resolve().stat().st_size / (pool if path.is_symlink() else stems)
        out[kind] = out.get(kind, 0.0) + per
    return out
