"""The random and mashability baselines."""

import numpy as np
import pytest

from evaluation.baselines import MashFeatures, mash_features, mashability, random_scores, tempo_agreement
from tests.evaluation.conftest import SR, labelled_song


def test_tempo_agreement_folds_octaves_and_decays_with_mismatch():
    a = tempo_agreement(np.array([120.0]), np.array([120.0, 60.0, 240.0, 124.8, 150.0, 0.0]))[0]
    assert a[0] == a[1] == a[2] == pytest.approx(1.0)
    assert a[3] == pytest.approx(np.exp(-0.5), rel=1e-3)  # 4 % off = one sigma
    assert a[4] < 0.01
    assert a[5] == 0.0


def test_mashability_combines_chroma_cosine_and_tempo():
    q = MashFeatures(np.eye(12, dtype=np.float32)[:1], np.array([100.0], np.float32))
    r = MashFeatures(np.eye(12, dtype=np.float32)[:2], np.array([100.0, 100.0], np.float32))
    assert mashability(q, r)[0].tolist() == pytest.approx([1.0, 0.5])


def test_mashability_prefers_the_stem_in_the_same_key_and_tempo():
    a = labelled_song("a", 0, "major", 120.0)
    b = labelled_song("b", 6, "major", 90.0)
    mix = a.stems["drums"] + a.stems["other"]
    feats_q = mash_features([mix], SR)
    feats_r = mash_features([a.stems["bass"], b.stems["bass"], np.zeros(SR, np.float32)], SR)
    scores = mashability(feats_q, feats_r)[0]
    assert scores[0] > scores[1]
    assert feats_r.tempo[2] == 0 and not feats_r.chroma[2].any()  # silence has no features


def test_random_scores_are_seeded():
    assert np.array_equal(random_scores(3, 4, seed=1), random_scores(3, 4, seed=1))
    assert random_scores(3, 4).shape == (3, 4)
