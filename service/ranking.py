"""Ranking of one query's candidates: the model's cosine fused with the musical similarities of the stored
analyses (analysis.compatibility), conformed within the request's transposition and stretch limits, and
filtered by the request's BPM range and key.

Filters apply to a stem as the producer would use it, i.e. conformed: its BPM times the suggested stretch,
its key shifted by the suggested transposition (with no conforming allowed, the stem's own BPM and key).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np

from analysis.compatibility import PARTS, CompatWeights, Conform, Similarities, discount_hubs, fuse, similarities
from analysis.key import Key, camelot_compatible, index_of_key, key_name, key_of_index
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


def _conformed_keys(rows: np.ndarray, transpose: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each candidate's best key after its transposition: (tonic [R], key index [R] as in
    analysis.key.key_of_index, and a mask [R] of the candidates with a key: a flat profile has none)."""
    profiles = rows[:, FEATURES.key_slice]
    best = np.argmax(profiles, axis=1)
    tonic = (best % 12 + transpose) % 12
    return tonic, best // 12 * 12 + tonic, np.any(profiles != 0, axis=1)


def _key_matches(ranking: Ranking, rows: np.ndarray, transpose: np.ndarray) -> np.ndarray:
    """Per candidate: whether its conformed key is the wanted one (or, for "compatible", one of its Camelot
    neighbours)."""
    assert ranking.key is not None
    _, index, has_key = _conformed_keys(rows, transpose)
    wanted = [index_of_key(ranking.key)] if ranking.key_match == "exact" else [
        i for i in range(24) if camelot_compatible(key_of_index(i), ranking.key)]
    return has_key & np.isin(index, wanted)


def _passes(ranking: Ranking, bpm: np.ndarray, rows: np.ndarray, transpose: np.ndarray,
            analysed: np.ndarray) -> np.ndarray:
    ok = np.ones(len(bpm), dtype=bool)
    if ranking.bpm_min is not None:
        ok &= analysed & (bpm >= ranking.bpm_min)
    if ranking.bpm_max is not None:
        ok &= analysed & (bpm > 0) & (bpm <= ranking.bpm_max)
    if ranking.key is not None:
        ok &= analysed & _key_matches(ranking, rows, transpose)
    return ok


class RankedList(Sequence[Ranked]):
    """The candidates that pass the filters, best first, as `Ranked` items made when read: a query reads the
    first k of a pool of thousands."""

    def __init__(self, order: np.ndarray, score: np.ndarray, model: np.ndarray, fused: np.ndarray,
                 sims: Similarities, transpose: np.ndarray, stretch: np.ndarray, analysed: np.ndarray) -> None:
        self._order, self._score, self._model, self._fused = order, score, model, fused
        self._sims, self._transpose, self._stretch, self._analysed = sims, transpose, stretch, analysed

    def __len__(self) -> int:
        return len(self._order)

    @overload
    def __getitem__(self, at: int) -> Ranked: ...

    @overload
    def __getitem__(self, at: slice) -> list[Ranked]: ...

    def __getitem__(self, at: int | slice) -> Ranked | list[Ranked]:
        if isinstance(at, slice):
            return [self._item(int(i)) for i in self._order[at]]
        return self._item(int(self._order[at]))

    def _item(self, i: int) -> Ranked:
        parts = {"model": float(self._model[i])}
        if self._analysed[i]:
            parts |= {name: float(self._sims.parts[name][0, i]) for name in PARTS[1:]}
        parts["fused"] = float(self._fused[i])
        return Ranked(i, float(self._score[i]), parts, int(self._transpose[i]), float(self._stretch[i]),
                      bool(self._analysed[i]))


def rank(query_features: np.ndarray, model_scores: np.ndarray, rows: np.ndarray, analysed: np.ndarray,
         ranking: Ranking, hub: np.ndarray | None = None) -> RankedList:
    """Candidates (model cosines [R], feature rows [R, F], analysed mask [R]) in ranking order, filtered. `hub`
    [R]: each candidate's cosine with the queried instrument's mean query direction, given when all candidates
    are of that instrument; the fusion then discounts the model's cosine by `ranking.hub_discount` times it.

    Returns every candidate that passes the filters, best first.
    """
    model_scores = np.asarray(model_scores, dtype=np.float64)
    sims = similarities(query_features[None, :], rows, ranking.conform)
    model_part = discount_hubs(model_scores, hub, ranking.hub_discount)
    fused = fuse(model_part[None, :], sims, ranking.weights, analysed=analysed)[0]
    transpose = np.where(analysed, sims.transpose[0], 0)
    stretch = np.where(analysed, sims.stretch[0], 1.0)
    bpm = rows[:, FEATURES.column("bpm")] * stretch
    keep = _passes(ranking, bpm, rows, transpose, analysed)
    score = fused if ranking.rank == "fused" else model_scores
    order = np.argsort(-score, kind="stable")
    return RankedList(order[keep[order]], score, model_scores, fused, sims, transpose, stretch, analysed)


def matching_keys(key: Key, key_match: str) -> list[str]:
    """Names of the keys a stem may be in to match `key`: itself ("exact"), or also its Camelot neighbours
    ("compatible")."""
    if key_match == "exact":
        return [key_name(key)]
    every = [(t, m) for m in ("major", "minor") for t in range(12)]
    return [key_name(k) for k in every if camelot_compatible(k, key)]
