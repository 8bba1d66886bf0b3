"""Musical systems: fused and feature matrices standardised over each protocol's candidates, as the service."""

import numpy as np

from analysis.compatibility import CompatWeights, Conform, fuse, similarities
from analysis.key import key_profile
from analysis.music import FEATURES
from evaluation.musical import MASKED, MusicalInputs, candidate_mask, fused_matrix, musical_similarities


def _rows(rng: np.random.Generator, n: int) -> np.ndarray:
    rows = np.zeros((n, FEATURES.width), np.float32)
    rows[:, FEATURES.column("bpm")] = rng.uniform(80, 140, n)
    rows[:, FEATURES.key_slice] = key_profile(rng.random((n, 12)))
    return rows


def test_protocol_b_standardises_over_the_queried_instruments_stems_only() -> None:
    rng = np.random.default_rng(0)
    q_inst = np.array(["bass", "drums"])
    r_inst = np.array(["bass", "bass", "bass", "drums", "drums", "drums"])
    inputs = MusicalInputs(_rows(rng, 2), _rows(rng, 6), q_inst, r_inst, rng.random((2, 6)))
    weights = CompatWeights(model=1.0, key=2.0, tempo=1.0)
    sims = musical_similarities(inputs)
    mask_b = candidate_mask(inputs, "B")
    got = fused_matrix(inputs, sims, weights, mask_b)
    assert (got[~mask_b] == MASKED).all()
    # query 0 (bass) against the three bass stems only, with its own similarities
    own = similarities(inputs.query_rows[:1], inputs.ref_rows[:3], Conform())
    np.testing.assert_allclose(got[0, :3], fuse(inputs.model[:1, :3], own, weights)[0])
    # drums get no key term
    own = similarities(inputs.query_rows[1:], inputs.ref_rows[3:], Conform(pitched=False))
    np.testing.assert_allclose(got[1, 3:], fuse(inputs.model[1:, 3:], own, weights.for_instrument("drums"))[0])
    # over all six stems the standardisation differs, and so do the scores
    assert not np.allclose(fused_matrix(inputs, sims, weights, candidate_mask(inputs, "A"))[0, :3], got[0, :3])
    allowed = np.ones((2, 6), dtype=bool)
    allowed[0, 0] = False  # e.g. the query's own song
    assert not candidate_mask(inputs, "B", allowed)[0, 0] and candidate_mask(inputs, "B", allowed)[0, 1]
