"""Experiment record (issue 17; MODEL_CARD.md, "Placement, second pass"): is the model curve useless on long
audio only because the embedder cuts mix and stem into 8 s windows on different grids? Not shipped: re-cutting
the query's windows at each candidate offset did not make the model tell the truth from its neighbours.

The encoder sees absolute positions inside each 8 s window, and frame similarity peaks where the two grids
agree (whole windows apart) as well as where the music does. Here, for every candidate offset c within +-1 s of
the truth (40 ms steps), the query is cut to start at c and embedded again, so that the stem's frame j and the
query's frame j sit at the same place in their windows; the candidate's score is their mean cosine at lag 0.
Beside it, the service's model curve (query windows from its start, every frame lag, linearly interpolated to
the same candidates). Each method's best candidate is compared with the truth.

Cases: the long-excerpt protocol with the stem's end cut too (evaluation.excerpts; 30 s windows, the stem cut
by 0-4 s at the start and 0-2 s at the end; 7 s songs: the whole song, 0-2 s and 0-1 s). Development data only,
never musdb18-7/valid:

    PYTHONPATH=. .venv/bin/python scripts/window_phase_check.py \\
        ts=../shared/data/extra/trackswitch-demo:0:83.3:8:1,11,12 mu=../shared/data/musdb18-7/train:0:7.5:1:3
"""

import argparse
import time
from dataclasses import dataclass

import numpy as np

from analysis.alignment import Curve, frame_curve
from evaluation.excerpts import TOLERANCES_SECONDS, Excerpt, Multitrack, load_multitracks, plan_excerpts
from model.embed import Embedder

SEARCH_SECONDS = 1.0
STEP_SECONDS = 0.04


@dataclass(frozen=True)
class DataSet:
    """NAME=ROOT:SPAN_START:SPAN_END:WINDOWS:SEEDS (seeds comma-separated), e.g. ts=DIR:0:83.3:8:1,11,12."""

    name: str
    root: str
    span: tuple[float, float]
    windows: int
    seeds: tuple[int, ...]

    @classmethod
    def parse(cls, text: str) -> "DataSet":
        name, rest = text.split("=", 1)
        root, lo, hi, windows, seeds = rest.rsplit(":", 4)
        return cls(name, root, (float(lo), float(hi)), int(windows), tuple(int(s) for s in seeds.split(",")))


def at_lag(curve: Curve, lag: int) -> float:
    """The curve's mean cosine at `lag` (frames)."""
    return float(curve.similarity[lag - int(curve.lags[0])])


def best_offsets(embedder: Embedder, song: Multitrack, ex: Excerpt) -> tuple[float, float]:
    """(re-cut windows, service's curve): each method's best candidate minus the truth (s)."""
    sr, fs = embedder.sample_rate, embedder.frame_seconds
    lo, hi = round(ex.window_start * sr), round((ex.window_start + ex.window_seconds) * sr)
    mix = song.mix(ex.stem)
    stem = song.stems[ex.stem][1][lo + round(ex.cut * sr) : hi - round(ex.end_cut * sr)]
    stem_frames = embedder.embed_stem(stem).frames
    steps = round(SEARCH_SECONDS / STEP_SECONDS)
    candidates = ex.cut + STEP_SECONDS * np.arange(-steps, steps + 1)
    candidates = candidates[candidates >= 0]
    recut = embedder.predict([mix[lo + round(c * sr) : hi] for c in candidates], [ex.instrument] * len(candidates))
    recut_scores = [at_lag(frame_curve(p.frames, stem_frames, 1), 0) for p in recut]
    query = embedder.predict_one(mix[lo:hi], ex.instrument).frames
    full = frame_curve(query, stem_frames, 1)
    curve = np.interp(candidates / fs, full.lags, full.similarity)
    return (float(candidates[int(np.argmax(recut_scores))] - ex.cut),
            float(candidates[int(np.argmax(curve))] - ex.cut))


def report(name: str, excerpts: list[Excerpt], errors: np.ndarray) -> None:
    def shares(rows: np.ndarray) -> str:
        return " / ".join(f"{100 * np.mean(np.abs(rows) <= t + 1e-6):.1f}" for t in TOLERANCES_SECONDS)

    print(f"{name} ({len(excerpts)} cases), best offset within "
          f"{' / '.join(str(round(t * 1000)) for t in TOLERANCES_SECONDS)} ms of the truth:")
    print(f"  all: re-cut windows {shares(errors[:, 0])}; service's model curve {shares(errors[:, 1])}")
    for instrument in sorted({e.instrument for e in excerpts}):
        rows = errors[[e.instrument == instrument for e in excerpts]]
        print(f"  {instrument} ({len(rows)}): re-cut {shares(rows[:, 0])}; curve {shares(rows[:, 1])}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sets", type=DataSet.parse, nargs="+", help=DataSet.__doc__)
    p.add_argument("--limit", type=int, default=32, help="Songs per set.")
    p.add_argument("--window", type=float, default=30.0)
    args = p.parse_args()
    embedder = Embedder.from_checkpoint(None, device="cpu")
    for data in args.sets:
        t0 = time.perf_counter()
        songs = load_multitracks(data.root, embedder.sample_rate, embedder.vocabulary, args.limit)
        by_id = {s.song_id: s for s in songs}
        short = data.span[1] - data.span[0] < args.window
        excerpts = [e for seed in data.seeds for e in plan_excerpts(
            songs, embedder.sample_rate, args.window, data.windows, 1, 2.0 if short else 4.0, seed,
            lambda s: 0.5, data.span, 1.0 if short else 2.0)]  # beat_seconds is not used here
        errors = np.array([best_offsets(embedder, by_id[e.song_id], e) for e in excerpts])
        report(data.name, excerpts, errors)
        print(f"  ({time.perf_counter() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
