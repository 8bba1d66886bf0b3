"""Placement variants on development caches: the shipped evidence (analysis.placement) plus one more piece at a
time, each fitted as the shipped weights are (conditional logit, each set counting equally) and scored
leaving one set out (fit on the others). Prints, per variant and left-out set, the share of best offsets
within 20 / 160 ms, overall and per instrument. An experiment record (MODEL_CARD.md, "Placement, second
pass"); none of these pieces is shipped.

Pieces tried: the sum of the same-band onset correlations (the shipped onset term sums every band pair);
the low band against the low band; whitened correlations (GCC-PHAT: each frequency of the cross-spectrum at
unit magnitude, so the beat-periodic part no longer dominates), over every band pair and over the same
bands; onsets with their one- and two-beat periodic part removed (x[n] - (x[n - P] + x[n + P]) / 2, P on
the query's beat), same bands; the share of the stem's tracked beats on the query's; the fused curve without
confidence weights and without the model term.

Run it on training or extra data only, never on musdb18-7/valid:

    .venv/bin/python scripts/placement_variants.py ts=runs/align/ts-dev1.npz,runs/align/ts-dev11.npz \\
        sy=runs/align/sy-dev1.npz mu=runs/align/mu-train1.npz
"""

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import scipy.fft
from scipy.optimize import minimize

from analysis.alignment import (
    DEFAULT_FUSION,
    UNPITCHED_INSTRUMENTS,
    FusedCurve,
    fuse_curves,
    onset_correlation,
)
from analysis.beats import BeatGrid
from analysis.chroma import ONSET_HOP_SECONDS
from analysis.placement import HARMONY, PlacementWeights, _downbeats_on_downbeats, candidates, evidence, standardised
from evaluation.diagnosis import TOLERANCE_SECONDS
from evaluation.excerpts import AlignmentInputs, load_cases
from evaluation.placement import _fused
from model.embed import Embedder

Piece = Callable[[FusedCurve, AlignmentInputs], np.ndarray]  # a curve over the fused curve's lags


def _rows(x: AlignmentInputs) -> tuple[np.ndarray, np.ndarray, int]:
    q, s = x.query.signature(), x.stem.signature()
    qr = np.concatenate([q.envelope[None], q.bands]).astype(np.float64)
    sr = np.concatenate([s.envelope[None], s.bands]).astype(np.float64)
    return qr, sr, max(50, min(qr.shape[1], sr.shape[1]) // 2)


def _pairs_sum(qr: np.ndarray, sr: np.ndarray, pairs: Sequence[tuple[int, int]], lags: np.ndarray,
               m: int) -> np.ndarray:
    return np.asarray(sum(onset_correlation(qr[i], sr[j], lags, m) for i, j in pairs))


SAME = [(i, i) for i in range(1, 5)]
EVERY = [(i, j) for i in range(1, 5) for j in range(1, 5)]


def same_bands(f: FusedCurve, x: AlignmentInputs) -> np.ndarray:
    qr, sr, m = _rows(x)
    return _pairs_sum(qr, sr, SAME, f.lags, m)


def low_bands(f: FusedCurve, x: AlignmentInputs) -> np.ndarray:
    qr, sr, m = _rows(x)
    return _pairs_sum(qr, sr, [(1, 1)], f.lags, m)


def _whitened(qr: np.ndarray, sr: np.ndarray, pairs: Sequence[tuple[int, int]], lags: np.ndarray) -> np.ndarray:
    n_fft = scipy.fft.next_fast_len(qr.shape[1] + sr.shape[1], real=True)
    qf, sf = scipy.fft.rfft(qr, n_fft, axis=1), scipy.fft.rfft(sr, n_fft, axis=1)
    out = np.zeros(len(lags))
    for i, j in pairs:
        cross = qf[i] * np.conj(sf[j])
        mag = np.abs(cross)
        full = scipy.fft.irfft(cross / np.maximum(mag, 1e-9 * mag.max() + 1e-30), n_fft)
        out += full[np.mod(lags, n_fft)] / (np.abs(full).max() + 1e-12)
    return out


def whitened_every(f: FusedCurve, x: AlignmentInputs) -> np.ndarray:
    qr, sr, _ = _rows(x)
    return _whitened(qr, sr, EVERY, f.lags)


def whitened_same(f: FusedCurve, x: AlignmentInputs) -> np.ndarray:
    qr, sr, _ = _rows(x)
    return _whitened(qr, sr, SAME, f.lags)


def _aperiodic(beats: float) -> Piece:
    def piece(f: FusedCurve, x: AlignmentInputs) -> np.ndarray:
        qr, sr, m = _rows(x)
        p = max(1, round(beats * (x.query.grid().period or 0.5) / ONSET_HOP_SECONDS))

        def residual(r: np.ndarray) -> np.ndarray:
            out = r.copy()
            if len(r) > 2 * p:
                out[p:-p] = r[p:-p] - 0.5 * (r[: -2 * p] + r[2 * p :])
            return out

        return _pairs_sum(np.stack([residual(r) for r in qr]), np.stack([residual(r) for r in sr]), SAME, f.lags, m)
    return piece


def beats_on_beats(f: FusedCurve, x: AlignmentInputs) -> np.ndarray:
    """Over the lags: the share of the stem's tracked beats within 70 ms of one of the query's."""
    q, s = x.query.grid(), x.stem.grid()
    return _downbeats_on_downbeats(BeatGrid(q.beats, 1, 0, 0.0), BeatGrid(s.beats, 1, 0, 0.0),
                                   f.lags * ONSET_HOP_SECONDS)


def _refused(exponent: float, with_model: bool) -> Piece:
    weights = {"model": 1.0, "onset": DEFAULT_FUSION.onset, "harmony": DEFAULT_FUSION.harmony,
               "accent": DEFAULT_FUSION.accent}

    def piece(f: FusedCurve, x: AlignmentInputs) -> np.ndarray:
        return fuse_curves([(weights[k], v) for k, v in f.terms.items() if with_model or k != "model"], exponent)
    return piece


PIECES: dict[str, Piece] = {
    "same bands": same_bands, "low bands": low_bands, "whitened, every pair": whitened_every,
    "whitened, same bands": whitened_same, "aperiodic (1 beat)": _aperiodic(1.0),
    "aperiodic (2 beats)": _aperiodic(2.0), "beats on beats": beats_on_beats,
    "fused, no confidence": _refused(0.0, True), "fused, no model term": _refused(3.0, False),
}


def prepare(paths: Sequence[Path], frame_seconds: float) -> list[tuple[str, np.ndarray, np.ndarray, float]]:
    """Per case: instrument, raw evidence [K, base + pieces], candidate offsets [K] and the truth."""
    out = []
    for path in paths:
        for ex, x in zip(*load_cases(path), strict=True):
            f, _ = _fused(x, ex.instrument, frame_seconds, DEFAULT_FUSION, UNPITCHED_INSTRUMENTS)
            if f is None:
                continue
            offsets = candidates(f)
            base = evidence(f, x.query.signature(), x.stem.signature(), x.query.grid(), x.stem.grid(), offsets)
            extra = [np.interp(offsets / ONSET_HOP_SECONDS, f.lags, piece(f, x)) for piece in PIECES.values()]
            out.append((ex.instrument, np.column_stack([base, *extra]), offsets, ex.cut))
    return out


def _columns(case: tuple[str, np.ndarray, np.ndarray, float], keep: list[int], names: list[str]) -> np.ndarray:
    ev = standardised(case[1][:, keep])
    if case[0] in UNPITCHED_INSTRUMENTS:
        ev[:, [i for i, k in enumerate(keep) if names[k] in HARMONY]] = 0.0
    return ev


def fit(evs: list[np.ndarray], rights: list[np.ndarray], case_weights: list[float], l2: float = 0.01) -> np.ndarray:
    """The conditional-logit weights (as evaluation.placement.fit_weights, for any columns)."""
    usable = [(e, r, w) for e, r, w in zip(evs, rights, case_weights, strict=True) if r.any()]
    n = sum(w for *_, w in usable)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = 0.0, np.zeros_like(w)
        for e, r, cw in usable:
            s = e @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            right = max(p[r].sum(), 1e-300)
            total -= cw * np.log(right)
            grad -= cw * (e.T @ (np.where(r, p, 0.0) / right) - e.T @ p)
        return total / n + l2 * float(w @ w), grad / n + 2 * l2 * w

    return np.asarray(minimize(loss, np.zeros(evs[0].shape[1]), jac=True, method="L-BFGS-B").x)


def scores(cases: list[tuple[str, np.ndarray, np.ndarray, float]], evs: list[np.ndarray], w: np.ndarray) -> str:
    groups: dict[str, list[float]] = {}
    for (instrument, _, offsets, truth), e in zip(cases, evs, strict=True):
        error = abs(float(offsets[np.argmax(e @ w)]) - truth)
        for g in ("all", instrument):
            groups.setdefault(g, []).append(error)
    return " ".join(f"{g} {100 * np.mean(np.array(v) <= 0.02):.0f}/{100 * np.mean(np.array(v) <= 0.16):.0f}"
                    for g, v in sorted(groups.items(), key=lambda kv: (kv[0] != "all", kv[0])))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sets", nargs="+", help="NAME=cache[,cache...]: one development set per argument.")
    p.add_argument("-c", "--checkpoint", type=Path, default=None)
    args = p.parse_args()
    fs = Embedder.from_checkpoint(args.checkpoint, device="cpu").frame_seconds
    sets = {name: prepare([Path(c) for c in caches.split(",")], fs)
            for name, caches in (s.split("=", 1) for s in args.sets)}
    names = [*PlacementWeights.names(), *PIECES]
    base = list(range(len(PlacementWeights.names())))
    variants = {"shipped evidence": base, **{f"+ {n}": [*base, names.index(n)] for n in PIECES},
                "+ all of them": list(range(len(names)))}
    for label, keep in variants.items():
        print(f"### {label}")
        evs = {k: [_columns(c, keep, names) for c in cases] for k, cases in sets.items()}
        rights = {k: [np.abs(c[2] - c[3]) <= TOLERANCE_SECONDS for c in cases] for k, cases in sets.items()}
        for left_out in sets:
            train = [k for k in sets if k != left_out]
            w = fit([e for k in train for e in evs[k]], [r for k in train for r in rights[k]],
                    [1.0 / len(sets[k]) * sum(len(sets[t]) for t in train) for k in train for _ in sets[k]])
            print(f"  {left_out} left out: {scores(sets[left_out], evs[left_out], w)}")


if __name__ == "__main__":
    main()
