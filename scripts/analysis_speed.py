"""CPU time of the musical analysis (`analysis.music.analyse`, as the indexer runs it per stem and the service
per query), a git revision's (A) against the working tree's (B), interleaved call by call on the same audio:
the mix of the audio files in --source (default: the trackswitch demo's four stems), tiled to each length.

    PYTHONPATH=. .venv/bin/python scripts/analysis_speed.py --before 633cc59 --runs 15

Prints per length and version the median CPU (process time) and wall milliseconds, and B/A of the medians;
BLAS runs --threads threads, as in the indexer and the service (setting `threads`, default 1).
"""

import argparse
import os
import time
from pathlib import Path

import numpy as np
from analysis_revision import load_analysis
from threadpoolctl import threadpool_limits

from analysis.music import analyse
from model.audio import load_mono

SAMPLE_RATE = 16_000


def source_mix(source: Path) -> np.ndarray:
    """The mean of the source's audio files (as long as the shortest) at the model rate."""
    files = sorted(p for p in source.iterdir() if p.suffix.lower() in {".mp3", ".flac", ".wav", ".ogg"})
    waves = [load_mono(f, SAMPLE_RATE) for f in files]
    n = min(len(w) for w in waves)
    return (np.sum([w[:n] for w in waves], axis=0) / len(waves)).astype(np.float32)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--before", default="633cc59", help="git revision of A")
    p.add_argument("--source", type=Path, default=Path("../shared/data/extra/trackswitch-demo"))
    p.add_argument("--seconds", default="30,180", help="input lengths (s), comma-separated")
    p.add_argument("--runs", type=int, default=15, help="calls per version and length")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    old = load_analysis(args.before)
    mix = source_mix(args.source)
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}; A = {args.before}, B = working tree; "
          f"{args.runs} runs each, {args.threads} BLAS thread(s)")
    with threadpool_limits(args.threads):
        for seconds in (float(s) for s in args.seconds.split(",")):
            wave = np.resize(mix, round(seconds * SAMPLE_RATE))
            versions = {"A": old.analyse, "B": analyse}
            for fn in versions.values():  # warm: imports, FFT plans, allocator
                fn(wave, SAMPLE_RATE)
            cpu: dict[str, list[float]] = {k: [] for k in versions}
            wall: dict[str, list[float]] = {k: [] for k in versions}
            for _ in range(args.runs):
                for key, fn in versions.items():
                    c0, t0 = time.process_time(), time.perf_counter()
                    fn(wave, SAMPLE_RATE)
                    cpu[key].append((time.process_time() - c0) * 1000)
                    wall[key].append((time.perf_counter() - t0) * 1000)
            a, b = (float(np.median(cpu[k])) for k in versions)
            for key in versions:
                print(f"{seconds:5.0f} s  {key}: CPU {np.median(cpu[key]):7.1f} ms  "
                      f"wall {np.median(wall[key]):7.1f} ms")
            print(f"{seconds:5.0f} s  B/A CPU {b / a:.3f}  wall {np.median(wall['B']) / np.median(wall['A']):.3f}")


if __name__ == "__main__":
    main()
