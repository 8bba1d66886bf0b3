"""The vectorised ranking (service.ranking.rank, its items made when read) ranks, filters and scores as the code
before it did (ranking_before), for every filter and conforming."""

from dataclasses import replace

import numpy as np
import pytest

from analysis.compatibility import DEFAULT_WEIGHTS, Conform
from analysis.music import FEATURES
from evaluation.servebench import _features
from service.ranking import Ranking, rank
from tests.service import ranking_before as before

BASE = Ranking("fused", DEFAULT_WEIGHTS, Conform(), hub_discount=0.75)
RANKINGS = [
    BASE,
    replace(BASE, rank="model"),
    replace(BASE, conform=Conform(5, 0.08)),
    replace(BASE, bpm_min=90.0, bpm_max=140.0, conform=Conform(0, 0.08)),
    replace(BASE, key=(9, "minor")),
    replace(BASE, key=(0, "major"), key_match="compatible", conform=Conform(4, 0.0)),
    replace(BASE, key=(2, "minor"), key_match="compatible", bpm_max=120.0, conform=Conform(6, 0.25, pitched=False)),
]


@pytest.mark.parametrize("ranking", RANKINGS)
def test_rank_equals_the_code_before(ranking: Ranking):
    rng = np.random.default_rng(3)
    rows = _features(600, 5)
    rows[::9, FEATURES.key_slice] = 0.0
    analysed = rng.random(600) > 0.1
    rows[~analysed] = 0.0
    model, hub = rng.uniform(-0.2, 0.6, 600), rng.uniform(0.0, 0.9, 600)
    q = _features(1, 6)[0]
    old = before.rank(q, model, rows, analysed, ranking, hub)
    new = rank(q, model, rows, analysed, ranking, hub)
    assert len(new) == len(old) > 0
    assert [r.index for r in new] == [r.index for r in old]
    for a, b in zip(new[:50], old[:50], strict=True):
        assert (a.transpose, a.stretch, a.analysed) == (b.transpose, b.stretch, b.analysed)
        assert a.parts.keys() == b.parts.keys()
        assert a.score == pytest.approx(b.score, abs=1e-9)
        assert all(a.parts[k] == pytest.approx(b.parts[k], abs=1e-9) for k in a.parts)
    assert new[-1] == new[len(new) - 1] and new[3:5] == [new[3], new[4]]


def test_no_candidates_rank_to_nothing():
    assert len(rank(_features(1, 1)[0], np.zeros(0), np.zeros((0, FEATURES.width), np.float32), np.zeros(0, bool),
                    BASE)) == 0
