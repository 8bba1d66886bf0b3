"""Ranking of one query's candidates: the model's cosine fused with the musical similarities of the stored
analyses (analysis.compatibility), conformed within the request's transposition and stretch limits, and
filtered by the request's BPM range and key.

Filters apply to a stem as the producer would use it, i.e. conformed: its BPM times the suggested stretch,
its key shifted by the suggested transposition (with no conforming allowed, the stem's own BPM and key).
"""

from dataclasses import dataclass

import numpy as np

from analysis.compatibility import PARTS, CompatWeights, Conform, discount_hubs, fuse, similarities
from analysis.key import Key, camelot_compatible, key_name, key_of_index
from analysis.music import FEATURES

KEY_MATCHES = ("exact", "compatible")


@dataclass(frozen=True)
class Ranking:
    """How to rank and filter: `rank` "fused" or "model", the fusion weights, the conforming limits, and
    the filters (None: no filter). `key_match` "exact" keeps stems in `key`; "compatible" also its Camelot
    neighbours (relative key, a fifth up or down)."""

    rank: str
    weights: CompatWeights
    conform: Conform
    bpm_min: float | None = None
    bpm_max: float | None = None
    key: Key | None = None
    key_match: str = "exact"
    hub_discount: float = 0.0

    @property
    def filtered(self) -> bool:
        return self.bpm_min is not None or self.bpm_max is not None or self.key is not None


@dataclass(frozen=True)
class Ranked:
    """One candidate after ranking: its position in the candidate list, the score it was ranked by, every
    score part (model cosine and raw musical similarities, plus "fused"), and the conforming it needs."""

    index: int
    score: float
    parts: dict[str, float]
    transpose: int
    stretch: float
    analysed: bool


def _conformed_keys(rows: np.ndarray, transpose: np.ndarray) -> list[Key | None]:
    """Each candidate's best key after its transposition (None for a flat key profile)."""
    out: list[Key | None] = []
    for row, t in zip(rows, transpose, strict=True):
        profile = row[FEATURES.key_slice]
        if not np.any(profile):
            out.append(None)
            continue
        tonic, mode = key_of_index(int(np.argmax(profile)))
        out.append(((tonic + int(t)) % 12, mode))
    return out


def _passes(ranking: Ranking, bpm: np.ndarray, keys: list[Key | None], analysed: np.ndarray) -> np.ndarray:
    ok = np.ones(len(bpm), dtype=bool)
    if ranking.bpm_min is not None:
        ok &= analysed & (bpm >= ranking.bpm_min)
    if ranking.bpm_max is not None:
        ok &= analysed & (bpm > 0) & (bpm <= ranking.bpm_max)
    if ranking.key is not None:
        want = ranking.key
        match = [k is not None and (k == want if ranking.key_match == "exact" else camelot_compatible(k, want))
                 for k in keys]
        ok &= analysed & np.asarray(match, dtype=bool)
    return ok


def rank(query_features: np.ndarray, model_scores: np.ndarray, rows: np.ndarray, analysed: np.ndarray,
         ranking: Ranking, hub: np.ndarray | None = None) -> list[Ranked]:
    """Candidates (model cosines [R], feature rows [R, F], analysed mask [R]) in ranking order, filtered. `hub`
    [R]: each candidate's cosine with the queried instrument's mean query direction, given when all candidates
    are of that instrument; the fusion then discounts the model's cosine by `ranking.hub_discount` times it.

    Returns every candidate that passes the filters, best first.
    """
    if len(model_scores) == 0:
        return []
    sims = similarities(query_features[None, :], rows, ranking.conform)
    model_part = discount_hubs(model_scores, hub, ranking.hub_discount)
    fused = fuse(model_part[None, :], sims, ranking.weights, analysed=analysed)[0]
    transpose = np.where(analysed, sims.transpose[0], 0)
    stretch = np.where(analysed, sims.stretch[0], 1.0)
    bpm = rows[:, FEATURES.column("bpm")] * stretch
    keys = _conformed_keys(rows, transpose)
    keep = _passes(ranking, bpm, keys, analysed)
    score = fused if ranking.rank == "fused" else np.asarray(model_scores, dtype=np.float64)
    order = [int(i) for i in np.argsort(-score, kind="stable") if keep[i]]
    out = []
    for i in order:
        parts = {"model": float(model_scores[i])}
        if analysed[i]:
            parts |= {name: float(sims.parts[name][0, i]) for name in PARTS[1:]}
        parts["fused"] = float(fused[i])
        out.append(Ranked(i, float(score[i]), parts, int(transpose[i]), float(stretch[i]), bool(analysed[i])))
    return out


def matching_keys(key: Key, key_match: str) -> list[str]:
    """Names of the keys a stem may be in to match `key`: itself ("exact"), or also its Camelot neighbours
    ("compatible")."""
    if key_match == "exact":
        return [key_name(key)]
    every = [(t, m) for m in ("major", "minor") for t in range(12)]
    return [key_name(k) for k in every if camelot_compatible(k, key)]
