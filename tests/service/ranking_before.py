"""Frozen copy of service.ranking.rank before it was vectorised (commit 3194227): the oracle of
tests/service/test_ranking_speed.py. Not imported by the product."""

import numpy as np

from analysis.key import Key, camelot_compatible, key_of_index
from analysis.music import FEATURES
from service.ranking import Ranked, Ranking
from tests.analysis import compatibility_before as compat


def _conformed_keys(rows: np.ndarray, transpose: np.ndarray) -> list[Key | None]:
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
    if len(model_scores) == 0:
        return []
    conform = compat.Conform(**ranking.conform.__dict__)
    weights = compat.CompatWeights(**ranking.weights.__dict__)
    sims = compat.similarities(query_features[None, :], rows, conform)
    model_part = compat.discount_hubs(model_scores, hub, ranking.hub_discount)
    fused = compat.fuse(model_part[None, :], sims, weights, analysed=analysed)[0]
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
            parts |= {name: float(sims.parts[name][0, i]) for name in compat.PARTS[1:]}
        parts["fused"] = float(fused[i])
        out.append(Ranked(i, float(score[i]), parts, int(transpose[i]), float(stretch[i]), bool(analysed[i])))
    return out
