"""Musical systems for the retrieval evaluations: the stored analysis of every query mix and reference
stem (analysis.music), the features-alone and fused score matrices, built exactly as the service ranks.

The service standardises each part over the candidates it ranks: all stems without the instrument filter
(protocol A), the queried instrument's stems with it (protocol B). Fused and feature matrices are therefore
computed once per protocol, with that protocol's candidates as the standardisation pool.
"""

import logging
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from analysis.alignment import UNPITCHED_INSTRUMENTS
from analysis.compatibility import (
    DEFAULT_HUB_DISCOUNT,
    CompatWeights,
    Conform,
    Similarities,
    discount_hubs,
    fuse,
    similarities,
)
from analysis.music import FEATURES, analyse
from evaluation.songs import QueryPair

log = logging.getLogger(__name__)

MASKED = -1e30  # the score of a non-candidate: below any fused score, and finite (scores @ I stays exact)


def analyse_waves(waves: Sequence[np.ndarray], sample_rate: int) -> np.ndarray:
    """Feature rows [N, FEATURES.width] of mono waveforms at `sample_rate` Hz."""
    t0 = time.perf_counter()
    rows = np.zeros((len(waves), FEATURES.width), np.float32)
    for i, wave in enumerate(waves):
        rows[i] = analyse(wave, sample_rate).vector()
    log.info("analysed %d signals in %.1f s", len(waves), time.perf_counter() - t0)
    return rows


@dataclass(frozen=True)
class MusicalInputs:
    """What the musical systems need: feature rows of queries [Q, F] and references [R, F], the queried and
    the reference instruments, and the model's scores [Q, R] (the predictor's cosine with each stem)."""

    query_rows: np.ndarray
    ref_rows: np.ndarray
    query_instruments: np.ndarray
    ref_instruments: np.ndarray
    model: np.ndarray
    hub: np.ndarray | None = None  # [Q, R] each stem's cosine with the queried instrument's mean query direction


def hub_matrix(centres: Mapping[str, np.ndarray] | None, query_instruments: np.ndarray,
               refs: np.ndarray | None) -> np.ndarray | None:
    """[Q, R] each reference vector's cosine with its query's instrument's mean query direction; None without
    centres or reference vectors."""
    if centres is None or refs is None:
        return None
    directions = np.stack([centres.get(str(i), np.zeros(refs.shape[1], np.float32)) for i in query_instruments])
    return directions @ refs.T


def pair_inputs(pairs: Sequence[QueryPair], model: np.ndarray, sample_rate: int,
                hub: np.ndarray | None = None) -> MusicalInputs:
    """MusicalInputs of query pairs: every mix (query) and stem (reference) analysed once."""
    instruments = np.asarray([p.instrument for p in pairs])
    return MusicalInputs(analyse_waves([p.mix for p in pairs], sample_rate),
                         analyse_waves([p.stem for p in pairs], sample_rate), instruments, instruments, model, hub)


def candidate_mask(inputs: MusicalInputs, protocol: str, allowed: np.ndarray | None = None) -> np.ndarray:
    """[Q, R] candidates of each query under `protocol` ("A": all; "B": the queried instrument), intersected
    with `allowed` (e.g. the query's own song left out)."""
    mask = np.ones(inputs.model.shape, dtype=bool)
    if protocol == "B":
        mask &= inputs.query_instruments[:, None] == inputs.ref_instruments[None, :]
    if allowed is not None:
        mask &= allowed
    return mask


def musical_similarities(inputs: MusicalInputs, conform: Conform = Conform(),
                         unpitched: Collection[str] = UNPITCHED_INSTRUMENTS) -> Similarities:
    """Similarities [Q, R] of every query with every reference, conformed as the service conforms a query
    of that instrument (no transposition for unpitched instruments)."""
    shape = inputs.model.shape
    parts = {name: np.zeros(shape) for name in ("key", "chroma", "tempo", "rhythm")}
    transpose, stretch = np.zeros(shape, np.int64), np.ones(shape)
    for instrument in np.unique(inputs.query_instruments):
        rows = inputs.query_instruments == instrument
        got = similarities(inputs.query_rows[rows], inputs.ref_rows,
                           replace(conform, pitched=str(instrument) not in unpitched))
        for name, value in got.parts.items():
            parts[name][rows] = value
        transpose[rows], stretch[rows] = got.transpose, got.stretch
    return Similarities(parts, transpose, stretch)


def fused_matrix(inputs: MusicalInputs, sims: Similarities, weights: CompatWeights, mask: np.ndarray,
                 unpitched: Collection[str] = UNPITCHED_INSTRUMENTS) -> np.ndarray:
    """Fused scores [Q, R] (candidates outside `mask` get MASKED), with the weights each queried instrument
    gets in the service (CompatWeights.for_instrument)."""
    out = np.full(inputs.model.shape, MASKED)
    for instrument in np.unique(inputs.query_instruments):
        rows = inputs.query_instruments == instrument
        part = Similarities({k: v[rows] for k, v in sims.parts.items()}, sims.transpose[rows], sims.stretch[rows])
        fused = fuse(inputs.model[rows], part, weights.for_instrument(str(instrument), unpitched), mask[rows])
        out[rows] = np.where(mask[rows], fused, MASKED)
    return out


@dataclass(frozen=True)
class MusicalSystem:
    """A ranking built from the stored analyses: protocol A's and B's score matrices [Q, R] and the
    conforming it suggests [Q, R]."""

    name: str
    scores: np.ndarray
    scores_b: np.ndarray
    transpose: np.ndarray
    stretch: np.ndarray


def musical_systems(inputs: MusicalInputs, weights: CompatWeights, conforms: Mapping[str, Conform],
                    allowed: np.ndarray | None = None,
                    hub_discount: float = DEFAULT_HUB_DISCOUNT) -> list[MusicalSystem]:
    """The features alone (the model's weight 0) and the fusion with the model, for each conforming in
    `conforms` (a name suffix -> Conform), as the service ranks a query's candidates: within one instrument
    (protocol B) the model's cosine is discounted for hubs (when `inputs.hub` is known). With a discount and
    hubs, the fusion without the discount is measured too."""
    masks = {p: candidate_mask(inputs, p, allowed) for p in ("A", "B")}
    within = replace(inputs, model=discount_hubs(inputs.model, inputs.hub, hub_discount))
    out = []
    for suffix, conform in conforms.items():
        sims = musical_similarities(inputs, conform)
        systems = [(f"features alone{suffix}", replace(weights, model=0.0), within),
                   (f"fused{suffix}", weights, within)]
        if inputs.hub is not None and hub_discount and not suffix:
            systems.append((f"fused, no hub discount{suffix}", weights, inputs))
        for name, w, b_inputs in systems:
            a = fused_matrix(inputs, sims, w, masks["A"])
            b = fused_matrix(b_inputs, sims, w, masks["B"])
            out.append(MusicalSystem(name, a, b, sims.transpose, sims.stretch))
    return out
