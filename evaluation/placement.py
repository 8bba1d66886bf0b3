"""Offsets of the long-excerpt protocol's cases by the service's methods (the fused curve's best peak, and
placement among its peaks), and the fit of the placement weights: a conditional logit over each case's
candidate offsets, the right ones being those within a tolerance of the true offset.
"""

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from analysis.alignment import (
    DEFAULT_FUSION,
    MIN_OVERLAP_SECONDS,
    UNPITCHED_INSTRUMENTS,
    FusedCurve,
    FusionWeights,
    align_frames,
    fused_curve,
)
from analysis.placement import (
    ALTERNATIVE_SEPARATION_SECONDS,
    DEFAULT_PLACEMENT,
    HARMONY,
    PlacementWeights,
    candidates,
    evidence,
    place,
    standardised,
)
from evaluation.excerpts import AlignmentInputs

ALTERNATIVES = 2  # runner-up offsets, as the service returns by default


def _fused(x: AlignmentInputs, instrument: str, frame_seconds: float, fusion: FusionWeights,
           unpitched: Collection[str]) -> tuple[FusedCurve | None, float]:
    """The fused curve of one case as the service computes it, and the model curve's own offset."""
    aligned = align_frames(x.query_frames, x.stem_frames.astype(np.float32), frame_seconds, MIN_OVERLAP_SECONDS)
    weights = fusion.for_instrument(instrument, unpitched)
    return fused_curve(aligned.curve, frame_seconds, x.query.signature(), x.stem.signature(), weights), \
        aligned.offset_seconds


def fused_offsets(x: AlignmentInputs, instrument: str, frame_seconds: float, fusion: FusionWeights = DEFAULT_FUSION,
                  unpitched: Collection[str] = UNPITCHED_INSTRUMENTS) -> list[float]:
    """The previous release's offsets: the fused curve's best peak and runners-up 0.5 s apart."""
    curve, model = _fused(x, instrument, frame_seconds, fusion, unpitched)
    return [model] if curve is None else curve.peaks(1 + ALTERNATIVES)


def placed_offsets(x: AlignmentInputs, instrument: str, frame_seconds: float,
                   weights: PlacementWeights = DEFAULT_PLACEMENT, fusion: FusionWeights = DEFAULT_FUSION,
                   unpitched: Collection[str] = UNPITCHED_INSTRUMENTS,
                   separation_seconds: float = ALTERNATIVE_SEPARATION_SECONDS) -> list[float]:
    """Offsets by placement among the fused curve's peaks (analysis.placement), as the service finds them:
    the best and runners-up at least `separation_seconds` apart."""
    curve, model = _fused(x, instrument, frame_seconds, fusion, unpitched)
    if curve is None:
        return [model]
    return place(curve, x.query.signature(), x.stem.signature(), x.query.grid(), x.stem.grid(),
                 weights.for_instrument(instrument, unpitched), 1 + ALTERNATIVES, separation_seconds).offsets_seconds


@dataclass(frozen=True)
class CaseEvidence:
    """One case's standardised candidate evidence [K, E] and which candidates are right [K]."""

    evidence: np.ndarray
    right: np.ndarray


def case_evidence(x: AlignmentInputs, instrument: str, frame_seconds: float, truth_seconds: float,
                  tolerance_seconds: float, fusion: FusionWeights = DEFAULT_FUSION,
                  unpitched: Collection[str] = UNPITCHED_INSTRUMENTS) -> CaseEvidence | None:
    """The evidence the placement weighs for one case (chroma columns zeroed for unpitched stems, whose
    weights leave them out), or None without a fused curve."""
    curve, _ = _fused(x, instrument, frame_seconds, fusion, unpitched)
    if curve is None:
        return None
    offsets = candidates(curve)
    ev = standardised(evidence(curve, x.query.signature(), x.stem.signature(), x.query.grid(), x.stem.grid(), offsets))
    if instrument in unpitched:
        ev[:, [PlacementWeights.names().index(n) for n in HARMONY]] = 0.0
    return CaseEvidence(ev, np.abs(offsets - truth_seconds) <= tolerance_seconds)


def fit_weights(cases: Sequence[CaseEvidence], l2: float = 0.01,
                case_weights: Sequence[float] | None = None) -> PlacementWeights:
    """The weights maximising the conditional-logit likelihood of the right candidates (cases without one
    among the candidates carry no information and are skipped), each case counted `case_weights` times
    (default once), with an L2 penalty."""
    weights = [1.0] * len(cases) if case_weights is None else list(case_weights)
    usable = [(c, cw) for c, cw in zip(cases, weights, strict=True) if c.right.any()]
    if not usable:
        raise ValueError("no case has a right offset among its candidates")
    n = sum(cw for _, cw in usable)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = 0.0, np.zeros_like(w)
        for c, cw in usable:
            s = c.evidence @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            right = p[c.right].sum()
            total -= cw * np.log(max(right, 1e-300))
            q = np.where(c.right, p, 0.0) / max(right, 1e-300)  # posterior over the right candidates
            grad -= cw * (c.evidence.T @ q - c.evidence.T @ p)
        return total / n + l2 * float(w @ w), grad / n + 2 * l2 * w

    start = PlacementWeights(fused=1.0).vector()
    result = minimize(loss, start, jac=True, method="L-BFGS-B")
    return PlacementWeights(*(round(float(v), 3) for v in result.x))
