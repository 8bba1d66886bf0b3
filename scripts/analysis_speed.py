"""CPU time of the musical analysis (`analysis.music.analyse`, as the indexer runs it per stem and the service
per query), a git revision's (A) against the working tree's (B), on the same audio: the mix of the audio files
in --source (default: the trackswitch demo's four stems), tiled to each length.

    PYTHONPATH=. .venv/bin/python scripts/analysis_speed.py --before 633cc59 --runs 15

Two ways, both printed: calls interleaved A B A B in one process, and each version alone in its own processes
(--rounds of them, interleaved A B A B, --runs calls each after a warm-up), as an indexing worker or a server
runs it: the allocator's state carries from call to call (which large arrays are page-faulted in anew), so a
version's cost alone can differ from its cost beside the other. Prints per length and version the median CPU
(process time) and wall milliseconds, and B/A of the medians. BLAS runs --threads threads, as in the indexer
and the service (setting `threads`, default 1).
"""

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from analysis_revision import load_analysis
from threadpoolctl import threadpool_limits

from model.audio import load_mono

SAMPLE_RATE = 16_000
Analyse = Callable[[np.ndarray, int], object]


def source_mix(source: Path) -> np.ndarray:
    """The mean of the source's audio files (as long as the shortest) at the model rate."""
    files = sorted(p for p in source.iterdir() if p.suffix.lower() in {".mp3", ".flac", ".wav", ".ogg"})
    waves = [load_mono(f, SAMPLE_RATE) for f in files]
    n = min(len(w) for w in waves)
    return (np.sum([w[:n] for w in waves], axis=0) / len(waves)).astype(np.float32)


def timed(fn: Analyse, wave: np.ndarray) -> tuple[float, float]:
    """(CPU ms, wall ms) of one call."""
    c0, t0 = time.process_time(), time.perf_counter()
    fn(wave, SAMPLE_RATE)
    return (time.process_time() - c0) * 1000, (time.perf_counter() - t0) * 1000


def versions(before: str, only: str | None = None) -> dict[str, Analyse]:
    from analysis.music import analyse

    out: dict[str, Analyse] = {}
    if only in (None, "A"):
        out["A"] = load_analysis(before).analyse
    if only in (None, "B"):
        out["B"] = analyse
    return out


def report(label: str, seconds: float, cpu: dict[str, list[float]], wall: dict[str, list[float]]) -> None:
    for key in ("A", "B"):
        print(f"{label:12s} {seconds:5.0f} s  {key}: CPU {np.median(cpu[key]):7.1f} ms  "
              f"wall {np.median(wall[key]):7.1f} ms")
    print(f"{label:12s} {seconds:5.0f} s  B/A CPU {np.median(cpu['B']) / np.median(cpu['A']):.3f}  "
          f"wall {np.median(wall['B']) / np.median(wall['A']):.3f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--before", default="633cc59", help="git revision of A")
    p.add_argument("--source", type=Path, default=Path("../shared/data/extra/trackswitch-demo"))
    p.add_argument("--seconds", default="30,180", help="input lengths (s), comma-separated")
    p.add_argument("--runs", type=int, default=15, help="calls per version and length (per process when alone)")
    p.add_argument("--rounds", type=int, default=3, help="processes per version and length, alone")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--only", choices=("A", "B"), help=argparse.SUPPRESS)  # one version alone, in a child process
    args = p.parse_args()
    threadpool_limits(args.threads)
    mix = source_mix(args.source)
    lengths = [float(s) for s in args.seconds.split(",")]
    if args.only:
        fn = versions(args.before, args.only)[args.only]
        wave = np.resize(mix, round(lengths[0] * SAMPLE_RATE))
        fn(wave, SAMPLE_RATE)  # warm: imports, FFT plans, allocator
        print(json.dumps([timed(fn, wave) for _ in range(args.runs)]))
        return
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}; A = {args.before}, B = working tree; "
          f"{args.runs} calls each, {args.threads} BLAS thread(s)")
    both = versions(args.before)
    for seconds in lengths:
        wave = np.resize(mix, round(seconds * SAMPLE_RATE))
        for fn in both.values():
            fn(wave, SAMPLE_RATE)
        cpu: dict[str, list[float]] = {k: [] for k in both}
        wall: dict[str, list[float]] = {k: [] for k in both}
        for _ in range(args.runs):
            for key, fn in both.items():
                c, w = timed(fn, wave)
                cpu[key].append(c)
                wall[key].append(w)
        report("interleaved", seconds, cpu, wall)
    for seconds in lengths:
        cpu = {"A": [], "B": []}
        wall = {"A": [], "B": []}
        for _ in range(args.rounds):
            for key in ("A", "B"):
                cmd = [sys.executable, __file__, "--only", key, "--before", args.before, "--source", str(args.source),
                       "--seconds", str(seconds), "--runs", str(args.runs), "--threads", str(args.threads)]
                got = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
                cpu[key] += [c for c, _ in got]
                wall[key] += [w for _, w in got]
        report("alone", seconds, cpu, wall)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
