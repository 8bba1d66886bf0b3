"""Compatibility: conforming finds the transposition and stretch that make a stem fit, and the fusion
standardises each part over the candidates."""

import numpy as np
import pytest

from analysis.compatibility import CompatWeights, Conform, Similarities, fuse, similarities, zscore_rows
from analysis.key import key_profile, rotate_profile
from analysis.music import FEATURES

SCALE = np.zeros(12)
SCALE[[0, 2, 4, 5, 7, 9, 11]] = 1.0
SCALE[[0, 4, 7]] += 1.0


def row(tonic: int, bpm: float) -> np.ndarray:
    r = np.zeros(FEATURES.width, np.float32)
    chroma = np.roll(SCALE, tonic)
    r[FEATURES.column("bpm")] = bpm
    r[FEATURES.key_slice] = key_profile(chroma)
    c = chroma - chroma.mean()
    r[FEATURES.chroma_slice] = c / np.linalg.norm(c)
    gram = np.cos(2 * np.pi * (np.arange(FEATURES.tempogram_slice.stop - FEATURES.tempogram_slice.start) / 36
                               - np.log2(bpm)))
    r[FEATURES.tempogram_slice] = gram / np.linalg.norm(gram)
    return r


def test_unconformed_matching_prefers_the_same_key_and_tempo() -> None:
    q = row(0, 120.0)
    cands = np.stack([row(0, 120.0), row(3, 120.0), row(0, 100.0), row(0, 60.0)])
    sims = similarities(q[None], cands)
    key, tempo = sims.parts["key"][0], sims.parts["tempo"][0]
    assert key[0] == pytest.approx(1.0, abs=1e-5) and key[1] < 0.5
    assert tempo[0] == pytest.approx(1.0) and tempo[3] == pytest.approx(1.0)  # half time fits as it is
    assert tempo[2] < 0.01
    assert (sims.transpose == 0).all() and (sims.stretch == 1.0).all()


@pytest.mark.parametrize("shift", [-5, -2, 1, 4])
def test_transposition_suggested_is_the_one_that_makes_the_key_fit(shift: int) -> None:
    q = row(5, 120.0)
    cand = row((5 - shift) % 12, 120.0)  # the stem is `shift` semitones below the mix's key
    cheap = Conform(max_transpose=6, transpose_cost=0.02)
    sims = similarities(q[None], cand[None], cheap)
    assert sims.transpose[0, 0] == shift
    assert sims.parts["key"][0, 0] == pytest.approx(1.0 - 0.02 * abs(shift), abs=1e-5)
    short = similarities(q[None], cand[None], Conform(max_transpose=abs(shift) - 1, transpose_cost=0.02))
    assert short.parts["key"][0, 0] < 0.9
    unpitched = similarities(q[None], cand[None], Conform(max_transpose=6, pitched=False))
    assert unpitched.transpose[0, 0] == 0


def test_the_default_cost_keeps_a_stem_a_fifth_away_untransposed_rather_than_shift_it_five_semitones() -> None:
    q, cand = row(5, 120.0), row(0, 120.0)  # the stem is a fourth below: a close key already
    assert similarities(q[None], cand[None], Conform(max_transpose=6)).transpose[0, 0] == 0
    assert similarities(q[None], row(4, 120.0)[None], Conform(max_transpose=6)).transpose[0, 0] == 1


def test_stretch_is_applied_within_the_limit_and_mismatch_beyond_it_costs() -> None:
    q = row(0, 120.0)
    cands = np.stack([row(0, 114.0), row(0, 100.0)])
    sims = similarities(q[None], cands, Conform(max_stretch=0.08))
    np.testing.assert_allclose(sims.stretch[0], [120 / 114, 1.08], rtol=1e-6)
    tempo = sims.parts["tempo"][0]
    stretch_cost = Conform().stretch_cost
    assert tempo[0] == pytest.approx(1.0 - stretch_cost * np.log(120 / 114), abs=1e-6)
    assert tempo[1] < tempo[0] and tempo[1] == pytest.approx(np.exp(-0.5 * (np.log(1.2 / 1.08) / np.log(1.01)) ** 2)
                                                            - stretch_cost * np.log(1.08), abs=1e-6)
    assert np.allclose(rotate_profile(key_profile(SCALE), 0), key_profile(SCALE))


def test_fusion_standardises_parts_over_the_candidates_and_skips_unanalysed_ones() -> None:
    model = np.array([[0.9, 0.5, 0.1, 0.3]])
    parts = {"key": np.array([[0.0, 1.0, 0.0, 5.0]]), "chroma": np.zeros((1, 4)), "tempo": np.zeros((1, 4)),
             "rhythm": np.zeros((1, 4))}
    sims = Similarities(parts, np.zeros((1, 4), int), np.ones((1, 4)))
    analysed = np.array([True, True, True, False])
    fused = fuse(model, sims, CompatWeights(model=1.0, key=2.0), analysed=analysed)
    key_z = zscore_rows(np.array([[0.0, 1.0, 0.0]]))[0]
    expected = zscore_rows(model)[0] + 2.0 * np.append(key_z, 0.0)
    np.testing.assert_allclose(fused[0], expected)
    assert CompatWeights(key=1.0, chroma=1.0, tempo=1.0).for_instrument("drums") == CompatWeights(tempo=1.0)
    np.testing.assert_allclose(fuse(model, sims, CompatWeights()), zscore_rows(model))


def test_the_hub_discount_lets_a_fitting_stem_overtake_a_stem_that_tops_every_query() -> None:
    """Two candidates in the same key and tempo as the query: the hub has the higher model cosine only because
    it lies near the instrument's mean query direction; discounted, the other stem ranks first."""
    from dataclasses import replace

    from analysis.compatibility import discount_hubs
    from service.ranking import Ranking, rank

    q = row(0, 120.0)
    rows = np.stack([row(0, 120.0), row(0, 120.0), row(6, 90.0)])
    model = np.array([0.62, 0.55, 0.1])
    hub = np.array([0.9, 0.2, 0.0])
    np.testing.assert_array_equal(discount_hubs(model, None, 0.75), model)
    np.testing.assert_allclose(discount_hubs(model, hub, 0.5), model - 0.5 * hub)
    analysed = np.ones(3, bool)
    base = Ranking("fused", CompatWeights(model=1.0, key=2.0, chroma=0.0, tempo=1.0, rhythm=0.0), Conform())
    plain = rank(q, model, rows, analysed, base)
    assert plain[0].index == 0
    discounted = rank(q, model, rows, analysed, replace(base, hub_discount=0.75), hub)
    assert discounted[0].index == 1 and discounted[-1].index == 2
