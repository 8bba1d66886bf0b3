"""CPU per refined hit, the code of a git revision (A) against the working tree (B), on the same stored stems
and queries, with the results compared: what service.retrieval does for each of a request's refined hits
(read the stem's frames and signature from the store, align_frames, fused_curve, place with the default
weights, runners-up and candidates), stage by stage.

    PYTHONPATH=. python scripts/hit_speed.py --before 633cc59 --source ../shared/data/extra/trackswitch-demo

Stems: evaluation.scalecat pools (3-minute stems; the onset and chroma rows of the --source files' analysis,
tiled and rolled; random unit frames; a 120 BPM beat grid per stem) in store format 2 and 3, written once
under --root. Queries: --mix-seconds excerpts of the mix of the --source files (their sum), each analysed
by the side's own code (as a request is), with random unit frames. Each side runs as its own process
(PYTHONPATH its checkout: A from `git archive`), both alive throughout, request by request alternating A/B and
B/A; every request aligns --hits stems against fresh query arrays (what is kept per query is computed once per
request, as in the service). With --stretch, every other hit is conformed to the mix's tempo (frames,
signature and beats stretched, as service.retrieval reads them). One intra-op thread (the service aligns a
hit per thread). Prints per-stage median CPU per hit (ms) for each side and store format, B/A ratios, and
whether the chosen offsets, confidences and runners-up agree (to the bit, or the largest difference).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve()
STAGES = ("read", "frames", "fuse", "place")
FORMATS = {2: "int8", 3: "format3"}
FRAME_SECONDS, FRAME_DIM, STEM_SECONDS, POOL = 0.16, 128, 180.0, 40


def prepare(root: Path, source: Path | None, mix_seconds: float, requests: int) -> None:
    """The pools of both formats and the query waves under `root` (kept for later runs)."""
    from evaluation import scalecat
    from model.audio import load_mono

    rows = scalecat.real_rows(source, seconds=STEM_SECONDS)
    lay = scalecat.layout(STEM_SECONDS, FRAME_SECONDS)
    names = {fmt: scalecat.write_pool(root, rows, POOL, FRAME_DIM, lay, name) for fmt, name in FORMATS.items()}
    (root / "pools.json").write_text(json.dumps({str(k): v for k, v in names.items()}))
    sr = 16_000
    if source is not None:
        files = sorted(p for p in source.iterdir() if p.suffix.lower() in {".mp3", ".flac", ".wav", ".ogg"})
        waves = [load_mono(f, sr) for f in files]
        n = min(len(w) for w in waves)
        mix = np.sum([w[:n] for w in waves], axis=0).astype(np.float32)
    else:
        t = np.arange(int(STEM_SECONDS * sr)) / sr
        mix = (np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 2 * t) > 0)).astype(np.float32)
    rng = np.random.default_rng(0)
    q = int(mix_seconds * sr)
    starts = rng.integers(0, max(1, len(mix) - q), requests)
    np.save(root / "queries.npy", np.stack([np.resize(mix[s : s + q], q) for s in starts]))


def worker(root: Path, store_format: int, hits: int, stretch: float) -> None:
    """One side: reads "round request" lines on stdin, aligns that request's hits and answers one JSON line of
    each hit's CPU per stage and results (the first request, a warm-up for imports and caches, unanswered)."""
    import inspect

    from analysis import alignment, placement
    from analysis.beats import stored_grid
    from analysis.music import analyse
    from analysis.signature import stretched, time_scale
    from evaluation.storesize import open_pool
    from indexer.analyses import AnalysisStore
    from model.threads import limit_threads

    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever the code under test prints goes to stderr
    limit_threads(1)
    names = json.loads((root / "pools.json").read_text())[str(store_format)]
    stores = open_pool(root / f"pool-{FORMATS[store_format]}", names, FRAME_DIM, store_format)
    analyses = AnalysisStore(np.zeros(0, np.int64), np.zeros((0, 1), np.float32),
                             {"onsets": stores["onsets"], "chroma": stores["chroma"]})
    waves = np.load(root / "queries.npy")
    reads_stretched = "stretch" in inspect.signature(analyses.signature).parameters

    def request(r: int, q: int) -> dict[str, list[list[float]]]:
        rng = np.random.default_rng([r, q])
        wave = waves[q]
        a = analyse(wave, 16_000)
        qf = rng.standard_normal((int(len(wave) / 16_000 / FRAME_SECONDS), FRAME_DIM)).astype(np.float32)
        qf /= np.linalg.norm(qf, axis=1, keepdims=True)
        got: dict[str, list[list[float]]] = {"cpu": [], "results": []}
        for n, i in enumerate(int(i) for i in rng.choice(POOL, hits, replace=False)):
            ratio = stretch if n % 2 else 1.0  # every other hit conformed to the mix's tempo
            t0 = time.process_time()
            frames = stores["frames"].get(i)
            if frames is not None and ratio != 1.0:  # as service.retrieval reads a conformed stem
                frames = time_scale(frames, ratio)
                norm = np.linalg.norm(frames, axis=1, keepdims=True)
                frames = np.where(norm > 1e-9, frames / np.maximum(norm, 1e-9), 0.0).astype(np.float32)
            if reads_stretched:
                sig = analyses.signature(i, ratio)
            else:
                stored = analyses.signature(i)
                sig = None if stored is None else stretched(stored, ratio)
            t1 = time.process_time()
            if frames is None or sig is None:
                raise KeyError(f"pooled stem {i} is missing from its packs")
            aligned = alignment.align_frames(qf, frames, FRAME_SECONDS, alignment.MIN_OVERLAP_SECONDS)
            t2 = time.process_time()
            fused = alignment.fused_curve(aligned.curve, FRAME_SECONDS, a.signature, sig, alignment.DEFAULT_FUSION)
            t3 = time.process_time()
            beats = np.arange(0.0, STEM_SECONDS, 0.5) + (i % 50) * 0.01
            grid = stored_grid(beats, 4, float(beats[i % 4])).stretched(ratio)
            found = None if fused is None else placement.place(fused, a.signature, sig, a.grid, grid,
                                                                placement.DEFAULT_PLACEMENT, 3)
            t4 = time.process_time()
            got["cpu"].append([1e3 * (t1 - t0), 1e3 * (t2 - t1), 1e3 * (t3 - t2), 1e3 * (t4 - t3)])
            got["results"].append([aligned.offset_seconds, aligned.score, *(found.offsets_seconds if found else []),
                                   *(found.confidences if found else [])])
        return got

    request(0, 0)
    for line in sys.stdin:
        r, q = (int(v) for v in line.split())
        out.write(json.dumps(request(r, q)) + "\n")


def start_side(checkout: Path, root: Path, store_format: int, hits: int, stretch: float) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(checkout), "STEMJEPA_THREADS": "1", "OMP_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, str(HERE), "--worker", "--root", str(root), "--format",
                             str(store_format), "--hits", str(hits), "--stretch", str(stretch)], cwd=checkout, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def ask(side: subprocess.Popen[str], r: int, q: int) -> dict[str, Any]:
    assert side.stdin is not None and side.stdout is not None
    side.stdin.write(f"{r} {q}\n")
    side.stdin.flush()
    line = side.stdout.readline()
    if not line:
        raise RuntimeError(f"a worker ended (exit {side.wait()})")
    return dict(json.loads(line))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--before", default="633cc59", help="git revision of A")
    p.add_argument("--source", type=Path, default=None, help="folder of real stems (rows and query mix)")
    p.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "hit-speed")
    p.add_argument("--hits", type=int, default=10)
    p.add_argument("--requests", type=int, default=4, help="requests (query excerpts) per round")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--mix-seconds", type=float, default=30.0)
    p.add_argument("--formats", default="2,3")
    p.add_argument("--stretch", type=float, default=1.0,
                   help="every other hit conformed by this tempo ratio (its frames and signature stretched)")
    p.add_argument("--show-differences", action="store_true", help="print every hit whose results differ")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--format", type=int, default=3, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args.root, args.format, args.hits, args.stretch)
        return
    args.root.mkdir(parents=True, exist_ok=True)
    queries = args.root / "queries.npy"
    if not queries.is_file() or len(np.load(queries)) != args.requests:
        prepare(args.root, args.source, args.mix_seconds, args.requests)
    a_dir = args.root / f"rev-{args.before}"
    if not a_dir.is_dir():
        a_dir.mkdir()
        archive = subprocess.run(["git", "archive", args.before], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(a_dir)], input=archive, check=True)
    b_dir = HERE.parents[1]
    print(f"load before: {os.getloadavg()}")
    for fmt in (int(f) for f in args.formats.split(",")):
        got: dict[str, dict[str, list[Any]]] = {"A": {"cpu": [], "results": []}, "B": {"cpu": [], "results": []}}
        sides = {name: start_side(checkout, args.root, fmt, args.hits, args.stretch)
                 for name, checkout in (("A", a_dir), ("B", b_dir))}
        try:
            for r in range(args.rounds):
                for q in range(args.requests):  # request by request, A first then B first
                    for name in ("A", "B") if (r * args.requests + q) % 2 == 0 else ("B", "A"):
                        answer = ask(sides[name], r, q)
                        for k in got[name]:
                            got[name][k] += answer[k]
        finally:
            for side in sides.values():
                if side.stdin is not None:
                    side.stdin.close()
                side.wait()
        a, b = np.asarray(got["A"]["cpu"]), np.asarray(got["B"]["cpu"])
        line = " ".join(f"{s} {np.median(a[:, j]):.2f}->{np.median(b[:, j]):.2f}" for j, s in enumerate(STAGES))
        ratio = b.sum(1) / a.sum(1)
        print(f"format {fmt}, {len(a)} hits per side, CPU ms per hit (median, A->B): {line}; "
              f"hit {np.median(a.sum(1)):.2f}->{np.median(b.sum(1)):.2f} (B/A of medians "
              f"{np.median(b.sum(1)) / np.median(a.sum(1)):.3f}; pairwise median {np.median(ratio):.3f}); "
              f"mean {a.sum(1).mean():.2f}->{b.sum(1).mean():.2f}")
        ra, rb = got["A"]["results"], got["B"]["results"]
        same_shape = all(len(x) == len(y) for x, y in zip(ra, rb, strict=True))
        diff = max((float(np.max(np.abs(np.subtract(x, y)))) for x, y in zip(ra, rb, strict=True) if len(x)),
                   default=0.0) if same_shape else float("inf")
        offsets_equal = same_shape and all(x[2:5] == y[2:5] for x, y in zip(ra, rb, strict=True))
        print(f"  results: {len(ra)} hits; largest difference of any value {diff:.2e}; identical to the bit: "
              f"{ra == rb}; placed offsets identical: {offsets_equal}")
        if args.show_differences:
            for n, (x, y) in enumerate(zip(ra, rb, strict=True)):
                if len(x) != len(y) or not np.allclose(x, y, rtol=0, atol=1e-9):
                    print(f"  hit {n}: A {np.round(x, 6).tolist()}\n         B {np.round(y, 6).tolist()}")
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
