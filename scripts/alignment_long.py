"""Long-audio alignment check (evaluation.excerpts' protocol): for each song and stem, windows of the song are
the queries (the mix of the other stems), the stem over the window with its first t seconds cut (t seeded in
[0, --max-cut]) is the catalogue stem, aligned as the service aligns a hit. Prints, per method and
instrument, the share of offsets within 20, 80 and 160 ms of t, on the beat (within 80 ms of a whole
number of beats), and with any returned offset within 160 ms. Methods: the model curve alone, the previous
release's fused curve, and placement among its peaks (the service's default; also with its runners-up 0.5 s
apart, as the previous release spaced them).

Run it on training or extra data, never on musdb18-7/valid. Each run can cache its prepared cases
(embeddings and analyses) to an .npz under runs/; `--fit` fits the placement weights on such caches:

    .venv/bin/python scripts/alignment_long.py ../shared/data/extra/trackswitch-demo --windows 8 \\
        --span 0 83.3 --seed 1 --cache runs/align/ts-dev1.npz
    .venv/bin/python scripts/alignment_long.py ../shared/data/extra/waveform-playlist-demo --trims 6 --seed 2 \\
        --own-row bass_drums --cache runs/align/wp-2.npz
    .venv/bin/python scripts/alignment_long.py --fit runs/align/ts-dev1.npz runs/align/mu-dev.npz ...

`--stored FORM ...` scores every method once per storage form of the cached stems' frames and signatures
(evaluation.storeforms, FRAMES/SIGNATURE: int8/int8 is store format 2, format3/format3 store format 3).
"""

import argparse
import logging
import time
from functools import partial
from pathlib import Path

import numpy as np

from analysis.music import analyse
from evaluation.excerpts import (
    AlignmentInputs,
    Excerpt,
    Method,
    Multitrack,
    load_cases,
    load_multitracks,
    model_offset,
    plan_excerpts,
    prepare_inputs,
    save_cases,
    table,
)
from evaluation.placement import case_evidence, fit_weights, fused_offsets, placed_offsets
from evaluation.storeforms import StoreForm
from model.embed import Embedder

FIT_TOLERANCE = 0.16


def _beat(song: Multitrack, sample_rate: int, given: float | None) -> float:
    """The song's beat period (s): given, or the median period of the whole mix's beat grid."""
    if given:
        return given
    period = analyse(song.mix(), sample_rate).grid.period
    print(f"  {song.song_id}: beat {period:.3f} s (the whole mix's beat grid)")
    return period


def fit(caches: list[Path], frame_seconds: float) -> None:
    """Fits the placement weights on the cases of `caches`, each cache counting as much as any other (so that
    MUSDB's many short cases do not drown the few long ones)."""
    evidence, weights = [], []
    for path in caches:
        excerpts, inputs = load_cases(path)
        found = [case_evidence(x, ex.instrument, frame_seconds, ex.cut, FIT_TOLERANCE)
                 for ex, x in zip(excerpts, inputs, strict=True)]
        cases = [c for c in found if c is not None]
        evidence += cases
        weights += [1.0 / len(cases)] * len(cases)
    covered = np.mean([c.right.any() for c in evidence])
    print(f"{len(evidence)} cases; a candidate within {FIT_TOLERANCE * 1000:.0f} ms in {100 * covered:.1f} %")
    print(fit_weights(evidence, case_weights=[w * len(evidence) / sum(weights) for w in weights]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", type=Path, nargs="*")
    p.add_argument("-c", "--checkpoint", type=Path, default=None)
    p.add_argument("--window", type=float, default=30.0, help="Window (query) length (s).")
    p.add_argument("--windows", type=int, default=1, help="Window starts per song (songs longer than a window).")
    p.add_argument("--trims", type=int, default=1, help="Cuts per window and stem.")
    p.add_argument("--max-cut", type=float, default=4.0, help="Largest cut of the stem's start (s).")
    p.add_argument("--end-cut", type=float, default=0.0, help="Largest cut of the stem's end (s; default none).")
    p.add_argument("--span", type=float, nargs=2, default=(0.0, np.inf), help="Windows lie inside this span (s).")
    p.add_argument("--limit", type=int, default=None, help="Songs per data folder.")
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--beat-seconds", type=float, default=None, help="Beat period of every song (default: the "
                   "whole mix's beat grid).")
    p.add_argument("--own-row", nargs="*", default=["bass_drums"], help="Stems with their own table row.")
    p.add_argument("--cache", type=Path, nargs="+", help="Prepared cases: read if present (several: scored "
                   "together), else prepared from the data and written (one).")
    p.add_argument("--fit", type=Path, nargs="+", help="Fit the placement weights on these caches and stop.")
    p.add_argument("--stored", nargs="+", type=StoreForm.parse, default=(),
                   help="Score each method per storage form of the stems' frames and signatures, FRAMES/SIGNATURE "
                   "(evaluation.storeforms), e.g. int8/int8 format3/format3.")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    embedder = Embedder.from_checkpoint(args.checkpoint, device="cpu")
    if args.fit:
        fit(args.fit, embedder.frame_seconds)
        return
    if args.cache and all(c.is_file() for c in args.cache):
        excerpts: list[Excerpt] = []
        inputs: list[AlignmentInputs] = []
        for cache in args.cache:
            more, prepared = load_cases(cache)
            excerpts, inputs = excerpts + more, inputs + prepared
    else:
        sr = embedder.sample_rate
        songs = [s for root in args.data for s in load_multitracks(root, sr, embedder.vocabulary, args.limit)]
        beats = {s.song_id: _beat(s, sr, args.beat_seconds) for s in songs}
        excerpts = plan_excerpts(songs, sr, args.window, args.windows, args.trims, args.max_cut, args.seed,
                                 lambda s: beats[s.song_id], (args.span[0], args.span[1]), args.end_cut)
        inputs = prepare_inputs(embedder, songs, excerpts)
        if args.cache:
            save_cases(args.cache[0], excerpts, inputs)
    fs = embedder.frame_seconds
    methods: dict[str, Method] = {
        "model curve": model_offset, "previous release (fused peak)": fused_offsets,
        # the same best offset; its runners-up as the previous release spaced them
        "placement, runners-up 0.5 s apart (previous)": partial(placed_offsets, separation_seconds=0.5),
        "placement (this release)": placed_offsets}
    results, seconds = {}, {}
    variants = {f" [{form.name}]": [form.stored(x) for x in inputs] for form in args.stored} or {"": inputs}
    for tag, cases in variants.items():
        for name, method in methods.items():
            t0 = time.perf_counter()
            results[name + tag] = [method(x, ex.instrument, fs) for ex, x in zip(excerpts, cases, strict=True)]
            seconds[name + tag] = (time.perf_counter() - t0) / max(len(excerpts), 1)
    windows = len({(e.song_id, e.window_start) for e in excerpts})
    print(f"{len(excerpts)} cases in {windows} windows, cuts {min(e.cut for e in excerpts):.2f}-"
          f"{max(e.cut for e in excerpts):.2f} s:")
    print(table(excerpts, results, args.own_row))
    print("alignment time per case: " + ", ".join(f"{n} {1000 * s:.1f} ms" for n, s in seconds.items()))


if __name__ == "__main__":
    main()
