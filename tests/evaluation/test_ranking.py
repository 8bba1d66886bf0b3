"""Retrieval metrics checked against known answers and a brute-force recomputation."""

import numpy as np
import pytest

from evaluation.ranking import CATEGORIES, Labels, bootstrap, evaluate_scores, ranks, top_hits
from model.validate import ranks_of_truth

INSTRUMENTS = ["bass", "drums", "vocals", "other"]


def make_labels(n_songs: int) -> Labels:
    songs = np.repeat([f"song{i}" for i in range(n_songs)], len(INSTRUMENTS))
    insts = np.tile(INSTRUMENTS, n_songs)
    return Labels(songs, insts, songs, insts, np.arange(len(songs)))


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute_force(scores: np.ndarray, labels: Labels, protocol: str) -> tuple[np.ndarray, np.ndarray]:
    """Ranks and top hits by sorting each query's candidates in plain Python (ties against the truth)."""
    out_rank, out_top = [], []
    for q in range(scores.shape[0]):
        cands = [
            r
            for r in range(scores.shape[1])
            if protocol == "A" or labels.ref_instruments[r] == labels.query_instruments[q]
        ]
        t = labels.truth[q]
        rank = sum(1 for r in cands if scores[q, r] >= scores[q, t])
        others = sorted((r for r in cands if r != t), key=lambda r: (-scores[q, r], r))
        out_rank.append(rank)
        out_top.append(t if rank == 1 else others[0])
    return np.array(out_rank), np.array(out_top)


def test_identical_embeddings_give_perfect_recall():
    labels = make_labels(6)
    refs = unit(np.random.default_rng(0).standard_normal((24, 16)))
    result = evaluate_scores(refs @ refs.T, labels, INSTRUMENTS, n_boot=100)
    for protocol in ("A", "B"):
        m = result[protocol]["metrics"]
        assert m["R@1"] == m["R@5"] == 100.0
        assert m["same_song_rate"] == 0.0
        assert m["median_norm_rank"] == pytest.approx(100 / (24 if protocol == "A" else 6))
        assert all(v == 100.0 for v in result[protocol]["per_instrument_R@1"].values())
    assert result["failure"]["all"]["both correct"] == 100.0
    assert np.array_equal(np.diag(result["confusion"]["percent"]), [100.0] * 4)


def test_shuffled_references_give_chance_level():
    rng = np.random.default_rng(1)
    labels = make_labels(100)  # 400 queries, 400 references
    queries = unit(rng.standard_normal((400, 32)))
    refs = queries[rng.permutation(400)]  # each query's true stem is now unrelated to it
    m = evaluate_scores(queries @ refs.T, labels, INSTRUMENTS, n_boot=0)["A"]["metrics"]
    assert m["R@10"] == pytest.approx(10 / 400 * 100, abs=2.0)
    assert m["mean_norm_rank"] == pytest.approx(50.0, abs=4.0)
    assert m["median_norm_rank"] == pytest.approx(50.0, abs=7.0)


@pytest.mark.parametrize("protocol", ["A", "B"])
def test_ranks_and_top_hits_match_brute_force(protocol):
    rng = np.random.default_rng(2)
    labels = make_labels(5)
    scores = np.round(rng.standard_normal((20, 20)), 1)  # coarse values: plenty of ties
    allowed = None if protocol == "A" else labels.same_instrument()
    rank = ranks(scores, labels.truth, allowed)
    top = top_hits(scores, labels.truth, rank, allowed)
    want_rank, want_top = brute_force(scores, labels, protocol)
    assert np.array_equal(rank, want_rank)
    assert np.array_equal(labels.ref_songs[top], labels.ref_songs[want_top])
    assert np.allclose(scores[np.arange(20), top], scores[np.arange(20), want_top])


def test_ranks_agree_with_model_validate_on_embeddings():
    rng = np.random.default_rng(3)
    q, r = unit(rng.standard_normal((12, 8))), unit(rng.standard_normal((12, 8)))
    truth = rng.permutation(12)
    assert np.array_equal(ranks(q @ r.T, truth), ranks_of_truth(q, r, truth))


def test_failure_categories_and_same_song_rate_are_consistent():
    rng = np.random.default_rng(4)
    labels = make_labels(8)
    result = evaluate_scores(rng.standard_normal((32, 32)), labels, INSTRUMENTS, n_boot=0)
    fail = result["failure"]
    assert fail["all"]["both correct"] == pytest.approx(result["A"]["metrics"]["R@1"])
    assert fail["all"]["right song, other instrument"] == pytest.approx(result["A"]["metrics"]["same_song_rate"])
    for row in fail.values():
        assert sum(row[c] for c in CATEGORIES) == pytest.approx(100.0)
    assert np.asarray(result["confusion"]["counts"]).sum() == 32
    assert result["B"]["metrics"]["same_song_rate"] == 0.0  # one stem per instrument and song


def test_bootstrap_interval_brackets_the_estimate_and_collapses_for_constant_data():
    rng = np.random.default_rng(5)
    songs = np.repeat(np.arange(30), 4)
    rank = rng.integers(1, 20, 120)
    ci = bootstrap(rank, np.full(120, 120), np.zeros(120, bool), songs, n_boot=500)
    r1 = np.mean(rank <= 1) * 100
    assert ci["R@1"][0] <= r1 <= ci["R@1"][1]
    flat = bootstrap(np.ones(120, int), np.full(120, 120), np.zeros(120, bool), songs, n_boot=200)
    assert flat["R@1"] == [100.0, 100.0]
    assert flat["median_norm_rank"][0] == flat["median_norm_rank"][1] == pytest.approx(100 / 120)
