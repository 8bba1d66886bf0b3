"""What the index's store costs, store format 2 beside format 3: bytes on disk per hour of audio of each
component of a real build (scripts/index_size.py), and the CPU time to read and decode a hit's alignment data
(scripts/store_read_speed.py)."""

import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from analysis.signature import Signature
from evaluation import scalecat
from indexer.analyses import CODECS
from indexer.build import build_index
from indexer.db import upgrade
from indexer.frames import PACK_SUFFIXES, FrameStore, frame_codec
from indexer.manifest import MANIFEST_NAME, read_manifest
from indexer.settings import load_settings
from model.embed import Embedder
from model.split import song_entries

COMPONENTS = ("frames", "onsets", "chroma", "beats", "features", "faiss", "manifest", "sql")
STORE_FORMATS = {2: "int8", 3: "format3"}  # store format -> evaluation.scalecat's name of its packs


def copy_songs(sources: list[Path], into: Path, limit: int | None) -> None:
    """Copies the songs of each source (a folder of song folders or .stem.mp4 files, or one song folder of
    stem files) into `into`; the indexer refuses files that resolve outside its catalogue's root."""
    for source in sources:
        songs = song_entries(source)
        if not songs:
            songs = [source]
        for song in songs[:limit]:
            if song.is_dir():
                shutil.copytree(song, into / song.name)
            else:
                shutil.copyfile(song, into / song.name)


def component_bytes(index_dir: Path, sqlite: Path) -> dict[str, int]:
    """Bytes on disk of each component of the published build (only files its manifest names)."""
    manifest = read_manifest(index_dir)
    if manifest is None:
        raise FileNotFoundError(f"no published build in {index_dir}")
    out = dict.fromkeys(COMPONENTS, 0)
    packs = {"frames": manifest["frame_packs"], **manifest.get("analysis_packs", {})}
    for kind, names in packs.items():
        for name in names:
            files = [index_dir / f"{name}{suffix}" for suffix in PACK_SUFFIXES]
            out[kind] += sum(f.stat().st_size for f in files if f.is_file())
    out["faiss"] = sum((index_dir / e["file"]).stat().st_size for e in manifest["instruments"].values())
    out["manifest"] = (index_dir / MANIFEST_NAME).stat().st_size
    out["sql"] = sqlite.stat().st_size
    return out


def index_size(catalogue: Path, root: Path, store_format: int, embedder: Embedder, workers: int = 0) -> dict[str, Any]:
    """Indexes `catalogue` into root/index-<format> (SQLite beside it) in `store_format`; bytes and MB per
    hour of audio of each component."""
    index_dir, sqlite = root / f"index-{store_format}", root / f"catalogue-{store_format}.sqlite"
    settings = load_settings(index_dir=index_dir, db_url=f"sqlite:///{sqlite}", workers=workers,
                             store_format=store_format)
    upgrade(settings.database_url)
    report = build_index(catalogue, settings, embedder=embedder)
    sizes = component_bytes(index_dir, sqlite)
    hours = report.audio_seconds / 3600
    alignment = sum(sizes[k] for k in ("frames", "onsets", "chroma"))
    return {"store_format": store_format, "stems": report.added, "audio_hours": hours, "bytes": sizes,
            "mb_per_hour": {k: v / hours / 1e6 for k, v in sizes.items()},
            "alignment_mb_per_hour": alignment / hours / 1e6,
            "total_mb_per_hour": sum(sizes.values()) / hours / 1e6}


def open_pool(folder: Path, names: dict[str, str], frame_dim: int, store_format: int) -> dict[str, FrameStore]:
    """The frame, onset and chroma stores of a scalecat pool of `store_format`."""
    codecs = {"frames": frame_codec(frame_dim), **CODECS} if store_format >= 3 else {}
    widths = {"frames": frame_dim, "onsets": 5, "chroma": 12}
    return {k: FrameStore(folder, [n], widths[k], codec=codecs.get(k)) for k, n in names.items()}


def read_hits(stores: dict[str, FrameStore], ids: list[int]) -> tuple[float, float]:
    """CPU seconds to read and decode the hits' rows, then to build their signatures (accents), as a request
    does for its refined hits."""
    c0 = time.process_time()
    got = [tuple(stores[k].get(i) for k in ("frames", "onsets", "chroma")) for i in ids]
    c1 = time.process_time()
    for frames, onsets, chroma in got:
        if frames is None or onsets is None or chroma is None:
            raise KeyError("a pooled stem is missing from its pack")
        Signature.from_stored(onsets, chroma)
    return c1 - c0, time.process_time() - c1


def read_speed(root: Path, rows: scalecat.RealRows, seconds: float, pool: int, rounds: int, frame_dim: int = 128,
               hits: int = 10, seed: int = 0) -> dict[int, dict[str, float]]:
    """Median wall ms, CPU ms to read and decode, and CPU ms to build the signatures of `hits` stems, per
    store format, over `rounds` rounds with the formats interleaved (the first, warming round not counted)."""
    lay = scalecat.layout(seconds, 0.16)
    stores = {fmt: open_pool(root / f"pool-{name}", scalecat.write_pool(root, rows, pool, frame_dim, lay, name),
                             frame_dim, fmt) for fmt, name in STORE_FORMATS.items()}
    rng = np.random.default_rng(seed)
    times: dict[int, list[tuple[float, float, float]]] = {fmt: [] for fmt in stores}
    for r in range(rounds + 1):
        ids = [int(i) for i in rng.choice(pool, hits, replace=False)]
        for fmt in sorted(stores, reverse=bool(r % 2)):
            t0 = time.perf_counter()
            decode, signature = read_hits(stores[fmt], ids)
            if r:
                times[fmt].append(((time.perf_counter() - t0) * 1e3, decode * 1e3, signature * 1e3))
    return {fmt: dict(zip(("wall_ms", "decode_cpu_ms", "signature_cpu_ms"),
                          (float(v) for v in np.median(np.array(t), axis=0)), strict=True))
            for fmt, t in times.items()}
