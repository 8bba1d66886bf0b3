"""Where placement goes wrong on the long-excerpt protocol (evaluation.excerpts), and what the protocol gives
away: per case, how far the chosen offset lies from the truth (within 160 ms, a beat, a bar, or farther),
what placement would choose if it were told the truth to within a second, which evidence ranks the truth
first among its neighbours; per song, where each correlation peaks over the whole song; and the offset that
the stem's and the query's lengths alone give (the protocol's truth whenever the stem keeps the window's end).
"""

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from analysis.alignment import (
    DEFAULT_FUSION,
    UNPITCHED_INSTRUMENTS,
    FusionWeights,
    accent_correlations,
    band_onset_correlation,
    chroma_correlation,
    onset_correlation,
)
from analysis.chroma import ONSET_HOP_SECONDS
from analysis.music import analyse
from analysis.placement import DEFAULT_PLACEMENT, HARMONY, PlacementWeights, candidates, evidence, standardised
from analysis.signature import Signature
from evaluation.excerpts import AlignmentInputs, Excerpt, Multitrack
from evaluation.placement import _fused

TOLERANCE_SECONDS = 0.16
MISS_KINDS = ("within 160 ms", "within a beat", "within a bar", "farther")


def length_offset(x: AlignmentInputs) -> float:
    """The offset (s) that puts the stem's end on the query's end: the difference of their lengths. Not a
    method: where the stem keeps the window's end (no end cut) it is the truth, so any method's score can be
    read against it."""
    return (len(x.query.onsets) - len(x.stem.onsets)) * ONSET_HOP_SECONDS


def miss_kind(error_seconds: float, beat_seconds: float, beats_per_bar: int = 4) -> str:
    """Which of MISS_KINDS an offset error (s) is, for a song of this beat period."""
    e = abs(error_seconds)
    if e <= TOLERANCE_SECONDS:
        return MISS_KINDS[0]
    if e <= beat_seconds + TOLERANCE_SECONDS:
        return MISS_KINDS[1]
    return MISS_KINDS[2] if e <= beats_per_bar * beat_seconds + TOLERANCE_SECONDS else MISS_KINDS[3]


def local_tops(evidence_rows: np.ndarray, offsets: np.ndarray, truth: float,
               radius_seconds: float) -> np.ndarray | None:
    """Per evidence column of [K, E]: whether the candidate nearest the truth scores higher than every other
    candidate (offsets [K], s) within `radius_seconds` of it (a tie is no: evidence that is flat there, like
    the overlap inside the query, does not single the truth out); None when no candidate lies within
    TOLERANCE_SECONDS of the truth."""
    i = int(np.argmin(np.abs(offsets - truth)))
    if abs(offsets[i] - truth) > TOLERANCE_SECONDS:
        return None
    others = np.abs(offsets - offsets[i]) <= radius_seconds
    others[i] = False
    return np.asarray((evidence_rows[others] < evidence_rows[i][None]).all(axis=0))


def windowed_choice(scores: np.ndarray, offsets: np.ndarray, truth: float, radius_seconds: float) -> float | None:
    """The best-scoring candidate offset (s) within `radius_seconds` of the truth (placement told where to
    look), or None when none lies there."""
    near = np.abs(offsets - truth) <= radius_seconds
    return None if not near.any() else float(offsets[near][np.argmax(scores[near])])


@dataclass(frozen=True)
class CaseDiagnosis:
    """One case: the placement's error (s), its kind (MISS_KINDS), the error of the best candidate within the
    window around the truth (None without one), whether each evidence ranks the truth first among its
    neighbours (None without a candidate at the truth), and the error of `length_offset`."""

    instrument: str
    error: float
    kind: str
    window_error: float | None
    tops: dict[str, bool] | None
    length_error: float


def diagnose(ex: Excerpt, x: AlignmentInputs, frame_seconds: float, radius_seconds: float = 1.0,
             weights: PlacementWeights = DEFAULT_PLACEMENT, fusion: FusionWeights = DEFAULT_FUSION,
             unpitched: Collection[str] = UNPITCHED_INSTRUMENTS) -> CaseDiagnosis | None:
    """The diagnosis of one case as the service places it, or None without a fused curve."""
    curve, _ = _fused(x, ex.instrument, frame_seconds, fusion, unpitched)
    if curve is None:
        return None
    offsets = candidates(curve)
    raw = evidence(curve, x.query.signature(), x.stem.signature(), x.query.grid(), x.stem.grid(), offsets)
    scores = standardised(raw) @ weights.for_instrument(ex.instrument, unpitched).vector()
    error = float(offsets[np.argmax(scores)]) - ex.cut
    window = windowed_choice(scores, offsets, ex.cut, radius_seconds)
    names = PlacementWeights.names()
    tops = local_tops(np.column_stack([scores, raw]), offsets, ex.cut, radius_seconds)
    kept = [n for n in names if not (ex.instrument in unpitched and n in HARMONY)]
    top = None if tops is None else {"placement": bool(tops[0]),
                                     **{n: bool(tops[1 + names.index(n)]) for n in kept}}
    return CaseDiagnosis(ex.instrument, error, miss_kind(error, ex.beat_seconds),
                         None if window is None else window - ex.cut, top, length_offset(x) - ex.cut)


def _preferred(curve: np.ndarray, lags: np.ndarray) -> float:
    return float(lags[int(np.argmax(curve))]) * ONSET_HOP_SECONDS


def correlation_preferences(query: Signature, stem: Signature, radius_seconds: float) -> dict[str, float]:
    """The lag (s) within +-radius_seconds of 0 where each correlation of `stem` against `query` peaks: the
    full-band onsets, the same-band pairs, every band pair (the fused curve's onset term), the accents and
    the chroma."""
    half = round(radius_seconds / ONSET_HOP_SECONDS)
    lags = np.arange(-half, half + 1)
    m = max(50, min(len(query.envelope), len(stem.envelope)) // 2)
    same = sum(onset_correlation(q.astype(np.float64), s.astype(np.float64), lags, m)
               for q, s in zip(query.bands, stem.bands, strict=True))
    return {
        "full band": _preferred(onset_correlation(query.envelope.astype(np.float64),
                                                  stem.envelope.astype(np.float64), lags, m), lags),
        "same bands": _preferred(np.asarray(same), lags),
        "band pairs": _preferred(band_onset_correlation(query, stem, lags, m), lags),
        "accents": _preferred(np.mean(accent_correlations(query, stem, lags, m), axis=0), lags),
        "chroma": _preferred(chroma_correlation(query, stem, lags, m), lags),
    }


def whole_song_preferences(song: Multitrack, sample_rate: int,
                           radius_seconds: float = 1.0) -> dict[str, dict[str, float]]:
    """Per stem of `song`, `correlation_preferences` of the stem against the mix of the others over the whole
    song, whose truth is 0: what each correlation says with all the evidence the song holds."""
    n = int(song.seconds)
    return {name: correlation_preferences(analyse(song.mix(name)[:n], sample_rate).signature,
                                          analyse(wave[:n], sample_rate).signature, radius_seconds)
            for name, (_, wave) in song.stems.items()}
