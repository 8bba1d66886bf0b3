"""The placement fit: a conditional logit that learns which evidence marks the right candidate."""

import numpy as np
import pytest

from analysis.placement import PlacementWeights
from evaluation.placement import CaseEvidence, fit_weights

NAMES = PlacementWeights.names()


def cases(rng: np.random.Generator, n: int, telling: str, noise: float = 0.5) -> list[CaseEvidence]:
    """n cases of 20 candidates, one right; the `telling` evidence is higher for it, the rest is noise."""
    out = []
    for _ in range(n):
        ev = rng.standard_normal((20, len(NAMES)))
        right = np.zeros(20, dtype=bool)
        right[rng.integers(20)] = True
        ev[right, NAMES.index(telling)] += 2.0 + noise * rng.standard_normal()
        out.append(CaseEvidence(ev, right))
    return out


def test_the_fit_weights_the_telling_evidence_most():
    w = fit_weights(cases(np.random.default_rng(0), 200, "overlap"))
    assert max(NAMES, key=lambda n: getattr(w, n)) == "overlap"
    assert w.overlap > 1.0


def test_case_weights_decide_between_sets_that_disagree():
    rng = np.random.default_rng(1)
    a, b = cases(rng, 100, "chroma_beat"), cases(rng, 100, "downbeat")
    favour_a = fit_weights(a + b, case_weights=[5.0] * 100 + [1.0] * 100)
    favour_b = fit_weights(a + b, case_weights=[1.0] * 100 + [5.0] * 100)
    assert favour_a.chroma_beat > favour_a.downbeat and favour_b.downbeat > favour_b.chroma_beat


def test_cases_without_a_right_candidate_are_skipped_and_none_at_all_is_an_error():
    rng = np.random.default_rng(2)
    hopeless = CaseEvidence(rng.standard_normal((20, len(NAMES))), np.zeros(20, dtype=bool))
    assert fit_weights([*cases(rng, 50, "fused"), hopeless]).fused > 0
    with pytest.raises(ValueError, match="no case"):
        fit_weights([hopeless])
