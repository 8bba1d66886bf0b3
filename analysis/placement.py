"""Placement of a stem in a mix beyond the beat: the fused alignment curve's peaks are candidate offsets, each
rescored with evidence that only long spans carry (beat- and bar-synchronous chroma over the whole overlap,
the bar-to-bar structure of the harmony, downbeats on downbeats, how much of the shorter signal the offset
keeps inside the other), and every returned offset gets a confidence.

The fused curve (analysis.alignment) places attacks to 10 ms and usually finds the beat; in music whose bars
repeat, its highest peak is often the right beat of the wrong bar. The evidence here is sampled on the
query's own beat grid: at candidate offset t, the query's beat [a, b) meets the stem's [a - t, b - t). Each
piece is standardised over the candidates and weighted (PlacementWeights); the softmax of the weighted sum
is each candidate's confidence: the probability that it is the right offset (within 160 ms) under a
conditional logit whose weights were fitted on development data (scripts/alignment_long.py --fit,
MODEL_CARD.md).
"""

from collections.abc import Collection
from dataclasses import dataclass, fields, replace

import numpy as np

from analysis.alignment import UNPITCHED_INSTRUMENTS, FusedCurve, per_query
from analysis.beats import BeatGrid
from analysis.chroma import CHROMA_HOP_STEPS, ONSET_HOP_SECONDS
from analysis.signature import Signature

CANDIDATES = 96  # peaks of the fused curve rescored: every half beat of +-12 s at 120 BPM
CANDIDATE_SEPARATION_SECONDS = 0.12  # closer peaks are one candidate (a 16th note at 125 BPM)
FALLBACK_BEAT_SECONDS = 0.5  # beat grid of queries whose tracker found too few beats
MIN_BEATS = 8
DOWNBEAT_TOLERANCE_SECONDS = 0.07
HARMONY = ("harmony", "chroma_beat", "chroma_bar", "structure")  # the evidence unpitched stems do without
# Runners-up may be the chosen offset's neighbouring sixteenth or eighth note: most wrong choices lie there
# (a beat or less from the truth), so runners-up 0.5 s apart skipped the right one. With the best and two
# runners-up, some offset within 160 ms on development data: trackswitch 41.7 -> 54.2 %, synthetic 68.8 ->
# 83.3 %, MUSDB train 84.5 -> 91.2 % (scripts/alignment_long.py; MODEL_CARD.md, "Placement, second pass").
ALTERNATIVE_SEPARATION_SECONDS = 0.15


@dataclass(frozen=True)
class PlacementWeights:
    """Weight of each piece of evidence (standardised over the candidates) in a candidate's score.

    fused: the fused curve's height; onset, accent, harmony, model: the heights of its terms (sharp attacks,
    accents, 40 ms chroma, the model's frames), so that each can count apart from the fusion; overlap: the
    share of the shorter signal that the offset keeps inside the other; chroma_beat, chroma_bar: mean cosine
    of beat- and bar-averaged chroma over the overlap (harmony and melody over whole phrases), times the
    overlap; downbeat: share of the stem's downbeats that land on the query's; structure: how alike the
    bar-to-bar chroma similarity of stem and query are (which bars repeat which: progressions, sections).
    """

    fused: float = 0.0
    onset: float = 0.0
    accent: float = 0.0
    harmony: float = 0.0
    model: float = 0.0
    overlap: float = 0.0
    chroma_beat: float = 0.0
    chroma_bar: float = 0.0
    downbeat: float = 0.0
    structure: float = 0.0

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def vector(self) -> np.ndarray:
        return np.array([getattr(self, n) for n in self.names()], dtype=np.float64)

    def for_instrument(self, instrument: str, unpitched: Collection[str] = UNPITCHED_INSTRUMENTS) -> "PlacementWeights":
        """These weights for a stem of `instrument`: without the chroma evidence for unpitched stems (their
        chroma is noise)."""
        return replace(self, **dict.fromkeys(HARMONY, 0.0)) if instrument in unpitched else self


# Fitted by scripts/alignment_long.py --fit on development data only (each set counting equally): the first
# half of the trackswitch song, synthetic songs of seed 1717 and MUSDB train (MODEL_CARD.md, Alignment). The
# overlap carries most: the right offset keeps the shorter signal inside the longer one, where repeats a bar
# or more away often do not; then the fused curve and the beat-synchronous chroma.
DEFAULT_PLACEMENT = PlacementWeights(fused=1.043, onset=-0.538, accent=-0.009, harmony=-0.01, model=-0.545,
                                     overlap=4.263, chroma_beat=0.87, chroma_bar=-0.094, downbeat=0.24,
                                     structure=0.249)


@dataclass(frozen=True)
class Placement:
    """Offsets (s), best first, each with its confidence in [0, 1] (softmax over all candidates)."""

    offsets_seconds: list[float]
    confidences: list[float]


def beat_spans(grid: BeatGrid, duration_seconds: float) -> tuple[np.ndarray, int]:
    """Beat boundaries [B + 1] (s) covering the whole query (the tracked beats, extended at both ends by their
    median period; a FALLBACK_BEAT_SECONDS grid without enough beats) and the index of a bar's first beat."""
    beats = np.asarray(grid.beats, dtype=np.float64)
    if len(beats) < MIN_BEATS or grid.period <= 0:
        return np.arange(0.0, duration_seconds + 2 * FALLBACK_BEAT_SECONDS, FALLBACK_BEAT_SECONDS), 0
    period = grid.period
    before = np.arange(beats[0] - period, -period, -period)[::-1]
    after = np.arange(beats[-1] + period, duration_seconds + period, period)
    return np.concatenate([before, beats, after]), grid.downbeat + len(before)


def _span_means(rows: np.ndarray, step_seconds: float, starts: np.ndarray,
                ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean of `rows` [N, C] (one row per `step_seconds`) over each [start, end) (s; arrays [K, B]) and the
    share of each span inside the sequence: ([K, B, C], [K, B])."""
    cum = np.concatenate([np.zeros((1, rows.shape[1])), np.cumsum(rows, axis=0, dtype=np.float64)])
    lo = np.clip(np.round(starts / step_seconds).astype(int), 0, len(rows))
    hi = np.clip(np.round(ends / step_seconds).astype(int), 0, len(rows))
    wanted = np.maximum(np.round((ends - starts) / step_seconds), 1)
    return (cum[hi] - cum[lo]) / np.maximum(hi - lo, 1)[..., None], (hi - lo) / wanted


def _bars(values: np.ndarray, beats_per_bar: int, first: int) -> np.ndarray:
    """Per-beat values [K, B, ...] summed into whole bars starting at beat `first`: [K, bars, ...]."""
    start = first % beats_per_bar
    n = (values.shape[1] - start) // beats_per_bar
    cut = values[:, start : start + n * beats_per_bar]
    return cut.reshape(values.shape[0], n, beats_per_bar, *values.shape[2:]).sum(axis=2)


def _mean_cosine(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean cosine per candidate of chroma a [K or 1, B, 12] and b [K, B, 12] over the spans in mask [K, B]
    (a silent span counts 0)."""
    na = np.sqrt(np.einsum("...bc,...bc->...b", a, a))
    nb = np.sqrt(np.einsum("...bc,...bc->...b", b, b))
    cos = np.einsum("...bc,...bc->...b", a, b) / np.maximum(na * nb, 1e-12)
    live = mask & (na > 1e-6) & (nb > 1e-6)
    return np.where(live, cos, 0.0).sum(axis=1) / np.maximum(mask.sum(axis=1), 1)


def _ssm_agreement(q: np.ndarray, s: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """How alike the bar-to-bar self-similarity of the query [K, bars, F] and of the stem [K, bars, F] is over
    the bars in mask [K, bars]: the Pearson correlation, over the pairs of distinct masked bars, of their
    cosine matrices (vectors centred over those bars).

    The matrices are never formed: with U and V the unit centred rows (zero outside the mask), every sum the
    correlation needs is a sum over all pairs (Frobenius products of F x F Gram matrices) less the diagonal.
    """
    w = mask[..., None].astype(np.float64)
    count = np.maximum(w.sum(axis=1, keepdims=True), 1.0)

    def unit_rows(x: np.ndarray) -> np.ndarray:
        c = (x - (x * w).sum(axis=1, keepdims=True) / count) * w
        return c / np.maximum(np.linalg.norm(c, axis=-1, keepdims=True), 1e-9)

    u, v = unit_rows(q), unit_rows(s)
    nu, nv = np.einsum("kbf,kbf->kb", u, u), np.einsum("kbf,kbf->kb", v, v)  # the diagonals [K, bars]

    def off_diagonal(x: np.ndarray, nx: np.ndarray, y: np.ndarray, ny: np.ndarray) -> np.ndarray:
        """Sum over pairs i != j of (x_i . x_j)(y_i . y_j): [K]."""
        gram = x.transpose(0, 2, 1) @ y  # [K, F, F]
        return np.einsum("kfg,kfg->k", gram, gram) - np.einsum("kb,kb->k", nx, ny)

    pairs = np.maximum(mask.sum(axis=1) * (mask.sum(axis=1) - 1), 1).astype(np.float64)
    sum_q = np.einsum("kf,kf->k", u.sum(axis=1), u.sum(axis=1)) - nu.sum(axis=1)
    sum_s = np.einsum("kf,kf->k", v.sum(axis=1), v.sum(axis=1)) - nv.sum(axis=1)
    cov = off_diagonal(u, nu, v, nv) - sum_q * sum_s / pairs
    var = (off_diagonal(u, nu, u, nu) - sum_q**2 / pairs) * (off_diagonal(v, nv, v, nv) - sum_s**2 / pairs)
    return np.where(var > 1e-12, cov / np.sqrt(np.maximum(var, 1e-12)), 0.0)


def _downbeats_on_downbeats(query_grid: BeatGrid, stem_grid: BeatGrid | None, offsets: np.ndarray) -> np.ndarray:
    """Per candidate offset (s) [K]: the share of the stem's downbeats, shifted by it, that land within
    DOWNBEAT_TOLERANCE_SECONDS of one of the query's (0 without enough beats on either side)."""
    if stem_grid is None or len(stem_grid.beats) < MIN_BEATS or len(query_grid.beats) < MIN_BEATS:
        return np.zeros(len(offsets))
    q_down = query_grid.downbeats
    if len(q_down) < 2:
        return np.zeros(len(offsets))
    shifted = stem_grid.downbeats[None, :] + offsets[:, None]  # [K, D]
    tol = DOWNBEAT_TOLERANCE_SECONDS
    live = (shifted >= q_down[0] - tol) & (shifted <= q_down[-1] + tol)
    at = np.clip(np.searchsorted(q_down, shifted), 1, len(q_down) - 1)
    nearest = np.minimum(np.abs(shifted - q_down[at - 1]), np.abs(shifted - q_down[at]))
    return (live & (nearest <= tol)).sum(axis=1) / np.maximum(live.sum(axis=1), 1)


def _query_beats(query: Signature, grid: BeatGrid,
                 q_seconds: float) -> tuple[np.ndarray, int, np.ndarray, np.ndarray, np.ndarray]:
    """The query's side of `evidence`, the same for every hit of a request: its beat boundaries and bar start
    (beat_spans), its beat-averaged chroma [1, B, 12] with each beat's share inside it [1, B], and the bar sums
    [1, bars, 12]."""
    edges, downbeat = beat_spans(grid, q_seconds)
    q_beat, q_in = _span_means(query.chroma, CHROMA_HOP_STEPS * ONSET_HOP_SECONDS, edges[None, :-1], edges[None, 1:])
    kept = (edges, q_beat, q_in, _bars(q_beat, max(grid.beats_per_bar, 1), downbeat))
    for x in kept:
        x.flags.writeable = False  # shared by the request's hits
    return kept[0], downbeat, *kept[1:]


def evidence(fused: FusedCurve, query: Signature, stem: Signature, query_grid: BeatGrid, stem_grid: BeatGrid | None,
             offsets_seconds: np.ndarray) -> np.ndarray:
    """The raw evidence [K, len(PlacementWeights.names())] for each candidate offset (s) [K] of `stem`
    against `query` (PlacementWeights' field order)."""
    t = np.asarray(offsets_seconds, dtype=np.float64)
    q_seconds, s_seconds = len(query.envelope) * ONSET_HOP_SECONDS, len(stem.envelope) * ONSET_HOP_SECONDS
    overlap = (np.minimum(t + s_seconds, q_seconds) - np.maximum(t, 0.0)) / min(q_seconds, s_seconds)

    step = CHROMA_HOP_STEPS * ONSET_HOP_SECONDS
    meter = max(query_grid.beats_per_bar, 1)
    edges, downbeat, q_beat, q_in, q_bar = per_query(
        (query.chroma, query_grid.beats), ("placement", q_seconds, query_grid.beats_per_bar, query_grid.downbeat),
        lambda: _query_beats(query, query_grid, q_seconds))
    a, b = edges[None, :-1], edges[None, 1:]  # [1, B] the query's beats
    # the stem's chroma summed in float64 as it is read (no float64 copy of its rows first)
    s_beat, s_in = _span_means(stem.chroma, step, a - t[:, None], b - t[:, None])  # [K, B, 12]
    beat_in = (q_in > 0.99) & (s_in > 0.99)  # [K, B] beats wholly inside both
    s_bar = _bars(s_beat, meter, downbeat)  # [K, bars, 12]
    bar_in = _bars(beat_in[..., None].astype(np.float64), meter, downbeat)[..., 0] >= meter

    def term(name: str) -> np.ndarray:
        curve = fused.terms.get(name)
        return np.zeros(len(t)) if curve is None else np.interp(t / ONSET_HOP_SECONDS, fused.lags, curve)

    columns = {
        "fused": fused.at(t), "onset": term("onset"), "accent": term("accent"), "harmony": term("harmony"),
        "model": term("model"), "overlap": overlap,
        "chroma_beat": _mean_cosine(q_beat, s_beat, beat_in) * overlap,
        "chroma_bar": _mean_cosine(q_bar, s_bar, bar_in) * overlap,
        "downbeat": _downbeats_on_downbeats(query_grid, stem_grid, t),
        "structure": _ssm_agreement(np.broadcast_to(q_bar, s_bar.shape), s_bar, bar_in),
    }
    return np.stack([columns[n] for n in PlacementWeights.names()], axis=1)


def standardised(x: np.ndarray) -> np.ndarray:
    """Each column of x [K, E] zero-mean and unit-variance over the candidates (constant columns: zeros)."""
    std = x.std(axis=0, keepdims=True)
    return np.where(std > 1e-12, (x - x.mean(axis=0, keepdims=True)) / np.maximum(std, 1e-12), 0.0)


def softmax(scores: np.ndarray) -> np.ndarray:
    e = np.exp(scores - scores.max())
    return np.asarray(e / e.sum())


def candidates(fused: FusedCurve, count: int = CANDIDATES) -> np.ndarray:
    """The offsets (s) of the fused curve's `count` highest peaks, CANDIDATE_SEPARATION_SECONDS apart: [K]."""
    return np.asarray(fused.peaks(count, CANDIDATE_SEPARATION_SECONDS))


def place(fused: FusedCurve, query: Signature, stem: Signature, query_grid: BeatGrid, stem_grid: BeatGrid | None,
          weights: PlacementWeights = DEFAULT_PLACEMENT, count: int = 1,
          min_separation_seconds: float = ALTERNATIVE_SEPARATION_SECONDS,
          candidate_count: int = CANDIDATES) -> Placement:
    """The best `count` candidate offsets (s), at least `min_separation_seconds` apart, by the weighted
    evidence, each with its confidence (the softmax of the scores over all candidates)."""
    offsets = candidates(fused, candidate_count)
    scores = standardised(evidence(fused, query, stem, query_grid, stem_grid, offsets)) @ weights.vector()
    probability = softmax(scores)
    chosen: list[int] = []
    for i in np.argsort(-scores, kind="stable"):
        if len(chosen) == count:
            break
        if all(abs(offsets[i] - offsets[j]) >= min_separation_seconds for j in chosen):
            chosen.append(int(i))
    return Placement([float(offsets[i]) for i in chosen], [float(probability[i]) for i in chosen])
