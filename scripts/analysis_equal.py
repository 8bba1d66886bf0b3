"""Checks that the working tree's musical analysis gives what a git revision's gave, field by field, on real
audio: every stream (mix and four stems) of the first --songs MUSDB train songs and the files of
../shared/data/extra, whole and as a 30 s excerpt of each (the query's usual length), at the model rate.

    PYTHONPATH=. .venv/bin/python scripts/analysis_equal.py --before 633cc59

Discrete facts (beat times, meter, downbeat, key, the stored beats) must be equal; every other field equal to
within --rtol of its largest magnitude. Prints per field how many inputs were bit-identical and the largest
relative difference; exits 1 if any input fails. Both versions run under the same BLAS threads (--threads, as
the indexer and the service run them); BLAS sums a product's rows in an order that depends on its threads.
"""

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
from analysis_revision import load_analysis, real_waves
from threadpoolctl import threadpool_limits

from analysis.music import analyse

SAMPLE_RATE = 16_000
EXCERPT = (60.0, 30.0)  # start and length (s) of the excerpt of each input
DISCRETE = ("beats", "beats_per_bar", "downbeat", "key_tonic", "key_mode", "stored_beats")


def fields(a: Any) -> dict[str, np.ndarray]:
    """Every field of an `Analysis` and of its stored form, as arrays."""
    s = a.stored()
    return {
        "bpm": np.float64(a.tempo.bpm), "bpm_confidence": np.float64(a.tempo.confidence),
        "folded_tempogram": a.tempo.folded, "beats": a.grid.beats, "beats_per_bar": np.int64(a.grid.beats_per_bar),
        "downbeat": np.int64(a.grid.downbeat), "downbeat_confidence": np.float64(a.grid.confidence),
        "key_profile": a.key_profile, "key_tonic": np.int64(a.key.tonic), "key_mode": np.array(a.key.mode),
        "key_confidence": np.float64(a.key.confidence), "chroma_summary": a.chroma,
        "loudness_dbfs": np.float64(a.loudness_dbfs), "duration": np.float64(a.duration_seconds),
        "envelope": a.signature.envelope, "bands": a.signature.bands, "accents": a.signature.accents,
        "chroma_rows": a.signature.chroma, "stored_features": s.features, "stored_onsets": s.onsets,
        "stored_chroma": s.chroma, "stored_beats": s.beats,
    }


def difference(old: np.ndarray, new: np.ndarray) -> float:
    """Largest absolute difference over the largest magnitude (inf for a shape or type mismatch)."""
    if old.shape != new.shape or old.dtype.kind != new.dtype.kind:
        return float("inf")
    if old.dtype.kind not in "fc":
        return 0.0 if np.array_equal(old, new) else float("inf")
    a, b = old.astype(np.float64), new.astype(np.float64)
    if not (np.isfinite(a) == np.isfinite(b)).all() or not np.array_equal(a[~np.isfinite(a)], b[~np.isfinite(b)]):
        return float("inf")
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    scale = float(np.abs(a).max(initial=0.0))
    gap = float(np.abs(a - b).max(initial=0.0))
    return gap / scale if scale > 0 else gap


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--before", default="633cc59", help="git revision to compare with")
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--songs", type=int, default=16)
    p.add_argument("--rtol", type=float, default=1e-5)
    p.add_argument("--threads", type=int, default=1, help="BLAS threads of both versions")
    args = p.parse_args()
    threadpool_limits(args.threads)
    old = load_analysis(args.before)
    identical: dict[str, int] = {}
    worst: dict[str, tuple[float, str]] = {}
    failures: list[str] = []
    inputs = 0
    for name, wave in real_waves(args.data, args.songs, SAMPLE_RATE):
        start, length = (round(x * SAMPLE_RATE) for x in EXCERPT)
        for label, w in ((name, wave), (f"{name}[60-90 s]", wave[start:start + length])):
            inputs += 1
            a, b = fields(old.analyse(w, SAMPLE_RATE)), fields(analyse(w, SAMPLE_RATE))
            for key in a:
                d = difference(np.asarray(a[key]), np.asarray(b[key]))
                identical[key] = identical.get(key, 0) + int(np.array_equal(a[key], b[key]))
                if d > worst.get(key, (-1.0, ""))[0]:
                    worst[key] = (d, label)
                if d > (0.0 if key in DISCRETE else args.rtol):
                    failures.append(f"{label}: {key} differs by {d:.3g}")
    print(f"{inputs} inputs ({args.songs} songs x 5 streams + extra files, whole and 30 s); before = {args.before}")
    print(f"{'field':22s} {'bit-identical':>14s} {'max rel diff':>13s}  where")
    for key in identical:
        d, where = worst[key]
        print(f"{key:22s} {identical[key]:>8d}/{inputs:<5d} {d:13.3g}  {where if d > 0 else ''}")
    for line in failures:
        print("FAIL", line)
    print("all equal within tolerance" if not failures else f"{len(failures)} failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
