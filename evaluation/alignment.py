"""The alignment analysis of paper section 4.3 (Figure 4): similarity of a stem's frame sequence and its
prediction from the rest of the mix as a function of time shift, and recovery of known offsets.

Shift convention: S(k) = mean_t <z_t, p_{t+k}> over the overlapping frames, z = the stem's frames,
p = the predicted frames of the mix (unit rows, so the dot product is the cosine). A peak at k means the
stem lines up with the mix when its first sample sits k frames (k x 0.16 s) into the mix.
"""

import logging
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from analysis.alignment import (
    CONFIDENCE_EXPONENT,
    DEFAULT_FUSION,
    MIN_OVERLAP_SECONDS,
    UNPITCHED_INSTRUMENTS,
    Alignment,
    FusionWeights,
    align_frames,
    fused_curve,
    fused_offset,
)
from analysis.music import Analysis, StoredAnalysis, analyse
from analysis.placement import DEFAULT_PLACEMENT, PlacementWeights, place
from analysis.signature import Signature
from evaluation.songs import EvalSong, QueryPair, query_pairs
from evaluation.storeforms import StoreForm
from model.embed import Embedder, Embedding

log = logging.getLogger(__name__)


def shift_curve(stem: np.ndarray, pred: np.ndarray, max_lag: int, min_overlap: int) -> np.ndarray:
    """stem [T1, D], pred [T2, D] unit rows -> S(k) for k = -max_lag..max_lag [2 max_lag + 1];
    NaN where fewer than `min_overlap` frames overlap."""
    sim = stem @ pred.T  # [T1, T2]
    out = np.full(2 * max_lag + 1, np.nan)
    for i, k in enumerate(range(-max_lag, max_lag + 1)):
        diag = np.diagonal(sim, offset=k)  # sim[t, t + k]
        if len(diag) >= min_overlap:
            out[i] = diag.mean()
    return out


def refined_peak(curve: np.ndarray) -> float:
    """Index of the curve's maximum, refined to a fraction of a step by a parabola through its neighbours."""
    i = int(np.nanargmax(curve))
    if 0 < i < len(curve) - 1 and np.isfinite(curve[i - 1]) and np.isfinite(curve[i + 1]):
        a, b, c = curve[i - 1], curve[i], curve[i + 1]
        denom = a - 2 * b + c
        if denom < 0:
            return i + 0.5 * (a - c) / denom
    return float(i)


def _nanmean(rows: Sequence[np.ndarray]) -> np.ndarray:
    stack = np.stack(rows)
    count = np.isfinite(stack).sum(axis=0)
    total = np.nansum(stack, axis=0)
    return np.divide(total, count, out=np.full(stack.shape[1], np.nan), where=count > 0)


def _unrelated_partner(pairs: Sequence[QueryPair]) -> list[int | None]:
    """For each pair, a pair of the same instrument from another song (the next one in order), if any."""
    out: list[int | None] = []
    for i, p in enumerate(pairs):
        others = [j for j, q in enumerate(pairs) if q.instrument == p.instrument and q.song_id != p.song_id]
        later = [j for j in others if j > i]
        out.append(later[0] if later else others[0] if others else None)
    return out


def _shifted(pair: QueryPair, shift: float, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """(stem, mix) such that the stem's first sample lines up with mix time `shift` seconds."""
    n = round(abs(shift) * sr)
    return (pair.stem[n:], pair.mix) if shift >= 0 else (pair.stem, pair.mix[n:])


def offset_recovery(
    embedder: Embedder, pairs: Sequence[QueryPair], max_lag: int, min_overlap: int, trials: int, seed: int
) -> dict[str, Any]:
    """Shifts stems against their mixes by random known amounts and recovers them from the curve's peak."""
    fs, sr = embedder.frame_seconds, embedder.sample_rate
    rng = np.random.default_rng(seed)
    jobs = []
    for _ in range(trials):
        for pair in pairs:
            seconds = len(pair.stem) / sr
            limit = min(max_lag * fs, seconds - min_overlap * fs - fs)
            if limit > fs:
                jobs.append((pair, float(rng.uniform(-limit, limit))))
    if not jobs:
        return {"trials": 0}
    cut = [_shifted(p, d, sr) for p, d in jobs]
    stems = embedder.embed_stems([s for s, _ in cut], "target")
    preds = embedder.predict([m for _, m in cut], [p.instrument for p, _ in jobs])
    true = np.array([d for _, d in jobs])
    found = np.array(
        [
            (refined_peak(shift_curve(s.frames, q.frames, max_lag, min_overlap)) - max_lag) * fs
            for s, q in zip(stems, preds, strict=True)
        ]
    )
    err = found - true
    abs_err = np.abs(err)
    return {
        "trials": len(jobs),
        "true_s": true.tolist(),
        "error_s": err.tolist(),
        "mean_abs_error_s": float(abs_err.mean()),
        "median_abs_error_s": float(np.median(abs_err)),
        "p90_abs_error_s": float(np.percentile(abs_err, 90)),
        "within_half_frame_pct": float(np.mean(abs_err <= fs / 2) * 100),
        "within_frame_pct": float(np.mean(abs_err <= fs) * 100),
        "within_1s_pct": float(np.mean(abs_err <= 1.0) * 100),
        # a uniform guess over [-max_lag, max_lag] frames lands within one frame about 1 / max_lag of the time
        "chance_within_frame_pct": float(min(1.0, 1.0 / max_lag) * 100),
    }


def evaluate_alignment(
    embedder: Embedder,
    songs: Sequence[EvalSong],
    max_shift_s: float = 32.0,
    min_overlap_s: float = 1.28,
    trials: int = 1,
    seed: int = 0,
) -> dict[str, Any]:
    """Shift curves per song and averaged, against unrelated pairs; zero-peak share; offset recovery."""
    t0 = time.perf_counter()
    pairs = query_pairs(songs)
    if not pairs:
        raise ValueError("no song has two or more non-silent stems")
    fs = embedder.frame_seconds
    longest = max(len(p.stem) for p in pairs) / embedder.sample_rate
    min_overlap = max(1, round(min_overlap_s / fs))
    max_lag = max(1, min(round(max_shift_s / fs), int(longest / fs) - min_overlap))
    stems = embedder.embed_stems([p.stem for p in pairs], "target")
    preds = embedder.predict([p.mix for p in pairs], [p.instrument for p in pairs])
    curves = [shift_curve(s.frames, q.frames, max_lag, min_overlap) for s, q in zip(stems, preds, strict=True)]
    unrelated = [
        shift_curve(stems[i].frames, preds[j].frames, max_lag, min_overlap)
        for i, j in enumerate(_unrelated_partner(pairs))
        if j is not None
    ]
    song_ids = list(dict.fromkeys(p.song_id for p in pairs))
    per_song = {s: _nanmean([c for c, p in zip(curves, pairs, strict=True) if p.song_id == s]) for s in song_ids}
    mean = _nanmean(list(per_song.values()))
    unrel = _nanmean(unrelated) if unrelated else np.full_like(mean, np.nan)
    zero = max_lag
    report = {
        "songs": len(song_ids),
        "pairs": len(pairs),
        "frame_seconds": fs,
        "max_shift_s": max_lag * fs,
        "min_overlap_s": min_overlap * fs,
        "lags_s": (np.arange(-max_lag, max_lag + 1) * fs).tolist(),
        "mean_curve": mean.tolist(),
        "unrelated_curve": unrel.tolist(),
        "per_song_curves": {s: c.tolist() for s, c in per_song.items()},
        "similarity_at_zero": float(mean[zero]),
        "similarity_mean_over_shifts": float(np.nanmean(mean)),
        "unrelated_at_zero": float(unrel[zero]),
        "unrelated_mean": float(np.nanmean(unrel)),
        "songs_peaking_at_zero_pct": float(np.mean([int(np.nanargmax(c)) == zero for c in per_song.values()]) * 100),
        "pairs_peaking_at_zero_pct": float(np.mean([int(np.nanargmax(c)) == zero for c in curves]) * 100),
        "chance_peak_at_zero_pct": float(100.0 / np.isfinite(mean).sum()),
        "offset_recovery": offset_recovery(embedder, pairs, max_lag, min_overlap, trials, seed),
    }
    report["seconds"] = round(time.perf_counter() - t0, 1)
    log.info(
        "alignment: %d songs, %d pairs, +-%.2f s in %.1f s", len(song_ids), len(pairs), max_lag * fs, report["seconds"]
    )
    return report


@dataclass(frozen=True)
class FusionSpec:
    """One variant of the service's offset fusion for the alignment scripts (scripts/alignment_sweep.py,
    scripts/alignment_long.py), written ONSET:HARMONY:ACCENT[:EXPONENT]: weights relative to the model
    curve's 1, and the confidence exponent (default the service's; 0 = the plain sum of the releases before
    it). The harmony term is dropped for the settings' unpitched instruments, as the service does."""

    onset: float
    harmony: float
    accent: float
    exponent: float = CONFIDENCE_EXPONENT

    @classmethod
    def parse(cls, text: str) -> "FusionSpec":
        parts = [float(x) for x in text.split(":")]
        if len(parts) not in (3, 4):
            raise ValueError(f"expected ONSET:HARMONY:ACCENT[:EXPONENT], got {text!r}")
        return cls(*parts)

    @property
    def name(self) -> str:
        return f"onset {self.onset:g} harmony {self.harmony:g} accent {self.accent:g} conf^{self.exponent:g}"

    def offset(self, instrument: str, aligned: Alignment, frame_seconds: float, query: Signature, stem: Signature,
               unpitched: Collection[str] = UNPITCHED_INSTRUMENTS) -> float:
        """The fused offset (s) of one stem, or the model curve's own where the envelopes carry no onsets."""
        weights = FusionWeights(self.onset, self.harmony, self.accent).for_instrument(instrument, unpitched)
        found = fused_offset(aligned.curve, frame_seconds, query, stem, weights, self.exponent)
        return aligned.offset_seconds if found is None else found


def offsets_by_spec(embedder: Embedder, pred: Embedding, query: Analysis, stem: np.ndarray, instrument: str,
                    specs: Sequence[FusionSpec], min_overlap_seconds: float = MIN_OVERLAP_SECONDS,
                    placement: PlacementWeights | None = DEFAULT_PLACEMENT,
                    store_form: Callable[[Signature], Signature] | None = None,
                    forms: Sequence[StoreForm] = ()) -> dict[str, float]:
    """Offset (s) of one stem against one mix, as the service finds it, per method: the model curve alone
    ("model"), each fusion variant's highest peak, and (unless `placement` is None) placement among the
    default fusion's peaks ("placement"). The stem is analysed as the index stores it (float16); `pred` and
    `query` (the mix's prediction and analysis) are computed once per mix by the caller; `store_form` turns the
    stem's signature into what another storage form would read back (evaluation.storeforms), None: as is.
    With `forms`, every method is scored once per storage form of the stem's frames and signature (keys
    "method [form]"), the stem embedded and analysed once for all of them."""
    ref = embedder.embed_stem(stem)
    stored = analyse(stem, embedder.sample_rate).stored()
    if not forms:
        return _offsets(embedder, pred, query, instrument, specs, min_overlap_seconds, placement, stored,
                        ref.frames, stored.signature() if store_form is None else store_form(stored.signature()))
    out = {}
    for form in forms:
        found = _offsets(embedder, pred, query, instrument, specs, min_overlap_seconds, placement, stored,
                         form.frames(ref.frames), form.signature(stored.signature()))
        out.update({f"{method} [{form.name}]": value for method, value in found.items()})
    return out


def _offsets(embedder: Embedder, pred: Embedding, query: Analysis, instrument: str, specs: Sequence[FusionSpec],
             min_overlap_seconds: float, placement: PlacementWeights | None, stored: StoredAnalysis,
             frames: np.ndarray, stem_sig: Signature) -> dict[str, float]:
    aligned = align_frames(pred.frames, frames, embedder.frame_seconds, min_overlap_seconds)
    out = {"model": aligned.offset_seconds}
    for spec in specs:
        out[spec.name] = spec.offset(instrument, aligned, embedder.frame_seconds, query.signature, stem_sig)
    if placement is not None:
        fused = fused_curve(aligned.curve, embedder.frame_seconds, query.signature, stem_sig,
                            DEFAULT_FUSION.for_instrument(instrument))
        out["placement"] = aligned.offset_seconds if fused is None else place(
            fused, query.signature, stem_sig, query.grid, stored.grid(), placement.for_instrument(instrument)
        ).offsets_seconds[0]
    return out
