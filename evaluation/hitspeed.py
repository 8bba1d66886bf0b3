"""CPU per refined hit, the code of a git revision (A) against the working tree (B), on the same stored stems
and queries, with the results compared: what service.retrieval does for each of a request's refined hits
(read and decode the stem's frames, onsets and chroma from the store and build its signature, align_frames,
fused_curve, place with the default weights, runners-up and candidates), stage by stage.

    PYTHONPATH=. python scripts/hit_speed.py --before 633cc59 --source ../shared/data/extra/trackswitch-demo

(scripts/hit_speed.py runs this module's main: the timing reads packs as the build does, through the
indexer, which evaluation may import and scripts may not.)

Both sides run in this one process, hit by hit, the order alternating (A then B, then B then A), so a shared
machine's load and a process's placement on the cores weigh on both alike: A is the revision's
analysis/alignment.py, analysis/placement.py, analysis/signature.py and indexer/codecs.py (`git show`, loaded
under other names), B this tree's. Each side keeps its own per-query caches (its module's), computed once per request.

Stems: evaluation.scalecat pools (3-minute stems; the onset and chroma rows of the --source files' analysis,
tiled and rolled; random unit frames; a 120 BPM beat grid per stem) in store format 2 and 3, written once
under --root. Queries: --mix-seconds excerpts of the mix of the --source files (their sum), analysed once per
request, with random unit frames. With --stretch, every other hit is conformed to the mix's tempo (frames,
signature and beats stretched, as service.retrieval reads them). One intra-op thread (the service aligns a hit
per thread). Prints per-stage median CPU per hit (ms) of each side and store format, the B/A ratios, and
whether the offsets, confidences and runners-up agree (to the bit, else the largest difference).
"""

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from analysis import alignment, placement, signature
from analysis.beats import stored_grid
from analysis.music import analyse
from evaluation import scalecat
from evaluation.storesize import open_pool
from indexer import codecs
from indexer.analyses import CODECS
from indexer.frames import FrameStore, _as_float, frame_codec
from model.audio import load_mono
from model.threads import limit_threads

STAGES = ("read", "frames", "fuse", "place")
FORMATS = {2: "int8", 3: "format3"}
FRAME_SECONDS, FRAME_DIM, STEM_SECONDS, POOL, SAMPLE_RATE = 0.16, 128, 180.0, 40, 16_000
MODULES = {"signature": "analysis/signature.py", "codecs": "indexer/codecs.py",
           "alignment": "analysis/alignment.py", "placement": "analysis/placement.py"}


@dataclass(frozen=True)
class Side:
    """One side's code: the four modules a refined hit runs."""

    signature: ModuleType
    codecs: ModuleType
    alignment: ModuleType
    placement: ModuleType


def load_revision(rev: str, folder: Path) -> Side:
    """MODULES as they were at `rev`, imported under other names (placement's import of alignment pointed at
    that revision's alignment)."""
    loaded: dict[str, ModuleType] = {}
    for name, path in MODULES.items():
        text = subprocess.run(["git", "show", f"{rev}:{path}"], check=True, capture_output=True, text=True).stdout
        text = text.replace("from analysis.alignment import", f"from hit_speed_{rev}_alignment import")
        file = folder / f"hit_speed_{rev}_{name}.py"
        file.write_text(text)
        spec = importlib.util.spec_from_file_location(file.stem, file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[file.stem] = module
        spec.loader.exec_module(module)
        loaded[name] = module
    return Side(**loaded)


def read(side: Side, stores: dict[str, FrameStore], stem_id: int, ratio: float) -> tuple[np.ndarray, Any]:
    """The stem's frames [T, D] and signature, as Build.frames and Build.signature read them (FrameStore.get
    with `side`'s codecs) and service.retrieval conforms them by `ratio`."""
    got = {}
    for kind, store in stores.items():
        row = store._row(stem_id)
        if row is None:
            raise KeyError(f"pooled stem {stem_id} is missing from its {kind} pack")
        _, start, count, pack, at = (int(v) for v in row)
        rows, params = store._data[pack][start : start + count], store._params[pack]
        if params is None:
            got[kind] = _as_float(rows)
        else:
            codec = frame_codec(FRAME_DIM) if kind == "frames" else CODECS[kind]
            mine = getattr(side.codecs, type(codec).__name__)(**vars(codec))  # the same codec, the side's code
            got[kind] = mine.decode(rows, params[at])
    frames = got["frames"]
    if ratio != 1.0:  # service.retrieval's conformed frames
        frames = side.signature.time_scale(frames, ratio)
        norm = np.linalg.norm(frames, axis=1, keepdims=True)
        frames = np.where(norm > 1e-9, frames / np.maximum(norm, 1e-9), 0.0).astype(np.float32)
    from_stored: Callable[..., Any] = side.signature.Signature.from_stored
    if "stretch" in from_stored.__code__.co_varnames:
        sig = from_stored(got["onsets"], got["chroma"], ratio)
    else:
        sig = side.signature.stretched(from_stored(got["onsets"], got["chroma"]), ratio)
    return frames, sig


def hit(side: Side, stores: dict[str, FrameStore], stem_id: int, ratio: float, qf: np.ndarray,
        query: Any) -> tuple[list[float], list[float]]:
    """(CPU ms per stage, results: coarse offset and score, placed offsets and confidences) of one hit."""
    t0 = time.process_time()
    frames, sig = read(side, stores, stem_id, ratio)
    t1 = time.process_time()
    aligned = side.alignment.align_frames(qf, frames, FRAME_SECONDS, alignment.MIN_OVERLAP_SECONDS)
    t2 = time.process_time()
    fused = side.alignment.fused_curve(aligned.curve, FRAME_SECONDS, query.signature, sig,
                                       side.alignment.DEFAULT_FUSION)
    t3 = time.process_time()
    beats = np.arange(0.0, STEM_SECONDS, 0.5) + (stem_id % 50) * 0.01
    grid = stored_grid(beats, 4, float(beats[stem_id % 4])).stretched(ratio)
    found = None if fused is None else side.placement.place(fused, query.signature, sig, query.grid, grid,
                                                            side.placement.DEFAULT_PLACEMENT, 3)
    t4 = time.process_time()
    cpu = [1e3 * (t1 - t0), 1e3 * (t2 - t1), 1e3 * (t3 - t2), 1e3 * (t4 - t3)]
    return cpu, [aligned.offset_seconds, aligned.score, *(found.offsets_seconds if found else []),
                 *(found.confidences if found else [])]


def query_waves(source: Path | None, seconds: float, count: int) -> np.ndarray:
    """`count` excerpts [count, seconds x rate] of the mix of the source files (a pulsed tone without one)."""
    if source is not None:
        files = sorted(p for p in source.iterdir() if p.suffix.lower() in {".mp3", ".flac", ".wav", ".ogg"})
        waves = [load_mono(f, SAMPLE_RATE) for f in files]
        n = min(len(w) for w in waves)
        mix = np.sum([w[:n] for w in waves], axis=0).astype(np.float32)
    else:
        t = np.arange(int(STEM_SECONDS * SAMPLE_RATE)) / SAMPLE_RATE
        mix = (np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 2 * t) > 0)).astype(np.float32)
    q = int(seconds * SAMPLE_RATE)
    starts = np.random.default_rng(0).integers(0, max(1, len(mix) - q), count)
    return np.stack([np.resize(mix[s : s + q], q) for s in starts])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--before", default="633cc59", help="git revision of A")
    p.add_argument("--source", type=Path, default=None, help="folder of real stems (rows and query mix)")
    p.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "hit-speed-pools")
    p.add_argument("--hits", type=int, default=10)
    p.add_argument("--requests", type=int, default=12)
    p.add_argument("--mix-seconds", type=float, default=30.0)
    p.add_argument("--formats", default="2,3")
    p.add_argument("--stretch", type=float, default=1.0,
                   help="every other hit conformed by this tempo ratio (its frames and signature stretched)")
    args = p.parse_args()
    limit_threads(1)
    rows = scalecat.real_rows(args.source, seconds=STEM_SECONDS)
    lay = scalecat.layout(STEM_SECONDS, FRAME_SECONDS)
    args.root.mkdir(parents=True, exist_ok=True)
    sides = {"A": load_revision(args.before, Path(tempfile.mkdtemp())),
             "B": Side(signature, codecs, alignment, placement)}
    waves = query_waves(args.source, args.mix_seconds, args.requests)
    print(f"load before: {os.getloadavg()}")
    for fmt in (int(f) for f in args.formats.split(",")):
        names = scalecat.write_pool(args.root, rows, POOL, FRAME_DIM, lay, FORMATS[fmt])
        stores = open_pool(args.root / f"pool-{FORMATS[fmt]}", names, FRAME_DIM, fmt)
        cpu: dict[str, list[list[float]]] = {"A": [], "B": []}
        results: dict[str, list[list[float]]] = {"A": [], "B": []}
        rng = np.random.default_rng(fmt)
        for q, wave in enumerate([waves[0], *waves]):  # the first request warms up (imports, caches): not counted
            query = analyse(wave, SAMPLE_RATE)
            qf = rng.standard_normal((int(len(wave) / SAMPLE_RATE / FRAME_SECONDS), FRAME_DIM)).astype(np.float32)
            qf /= np.linalg.norm(qf, axis=1, keepdims=True)
            for n, stem_id in enumerate(int(i) for i in rng.choice(POOL, args.hits, replace=False)):
                ratio = args.stretch if n % 2 else 1.0  # every other hit conformed to the mix's tempo
                for name in ("A", "B") if (q + n) % 2 == 0 else ("B", "A"):
                    got = hit(sides[name], stores, stem_id, ratio, qf, query)
                    if q:
                        cpu[name].append(got[0])
                        results[name].append(got[1])
        a, b = np.asarray(cpu["A"]), np.asarray(cpu["B"])
        line = " ".join(f"{s} {np.median(a[:, j]):.2f}->{np.median(b[:, j]):.2f}" for j, s in enumerate(STAGES))
        ratio_each = b.sum(1) / a.sum(1)
        print(f"format {fmt}, {len(a)} hits per side, CPU ms per hit (median, A->B): {line}; hit "
              f"{np.median(a.sum(1)):.2f}->{np.median(b.sum(1)):.2f} (B/A of medians "
              f"{np.median(b.sum(1)) / np.median(a.sum(1)):.3f}; of the pairs: median {np.median(ratio_each):.3f}); "
              f"mean {a.sum(1).mean():.2f}->{b.sum(1).mean():.2f}")
        ra, rb = results["A"], results["B"]
        same_shape = all(len(x) == len(y) for x, y in zip(ra, rb, strict=True))
        diff = max((float(np.max(np.abs(np.subtract(x, y)))) for x, y in zip(ra, rb, strict=True) if len(x)),
                   default=0.0) if same_shape else float("inf")
        print(f"  results: {len(ra)} hits; identical to the bit: {ra == rb}; largest difference {diff:.2e}")
    print(f"load after: {os.getloadavg()}")
