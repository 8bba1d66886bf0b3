"""Relevance, metrics and the top-hit breakdown of the compatibility evaluation, on hand-built score matrices."""

import math

import numpy as np
import pytest

from evaluation.compatibility import (
    NEGATIVE_TYPES,
    CompatLabels,
    NotASiblingCorpusError,
    PlanLabels,
    compat_set,
    evaluate_compat_scores,
    negative_types,
    relevance,
)
from evaluation.ranking import rank_relevant
from tests.evaluation.conftest import labelled_song

# song: (group, tonic, mode, tempo, style, role, transpose); each song has a bass and a drums stem
SONGS = {
    "a": (0, 0, "major", 120.0, "rock", "sibling", 0),
    "b": (0, 0, "major", 120.0, "rock", "sibling", 0),
    "v": (0, 2, "major", 120.0, "rock", "variant", 2),  # the group's plan two semitones up
    "k": (1, 0, "major", 100.0, "rock", "sibling", 0),  # same key as a, other tempo
    "t": (2, 5, "major", 121.0, "rock", "sibling", 0),  # tempo within 4 % of a's, other key
    "s": (3, 7, "major", 90.0, "rock", "sibling", 0),  # same style only
    "u": (4, 9, "minor", 70.0, "jazz", "sibling", 0),  # nothing in common
    "kt": (5, 0, "major", 118.0, "pop", "sibling", 0),  # same key and tempo, another plan
}
ITEMS = [(song, inst) for song in SONGS for inst in ("bass", "drums")]
IDX = {item: i for i, item in enumerate(ITEMS)}


def _labels(items: list[tuple[str, str]]) -> PlanLabels:
    rows = [SONGS[song] for song, _ in items]
    return PlanLabels(
        songs=np.array([s for s, _ in items]),
        instruments=np.array([i for _, i in items]),
        groups=np.array([r[0] for r in rows]),
        tonics=np.array([r[1] for r in rows]),
        modes=np.array([r[2] for r in rows]),
        tempi=np.array([r[3] for r in rows]),
        styles=np.array([r[4] for r in rows]),
        roles=np.array([r[5] for r in rows]),
        transposes=np.array([r[6] for r in rows]),
        ratios=np.ones(len(rows)),
    )


def test_relevance_levels_and_the_excluded_own_song() -> None:
    rel = relevance(CompatLabels(_labels(ITEMS), _labels(ITEMS)))
    a_bass, v_bass, k_bass = IDX["a", "bass"], IDX["v", "bass"], IDX["k", "bass"]
    assert np.flatnonzero(rel.exact[a_bass]).tolist() == [IDX["b", "bass"]]
    assert np.flatnonzero(rel.conformable[a_bass]).tolist() == [IDX["b", "bass"], v_bass]
    assert np.flatnonzero(rel.excluded[a_bass]).tolist() == [IDX["a", "bass"], IDX["a", "drums"]]
    assert not rel.exact[v_bass].any()  # no other song plays the variant's plan
    assert np.flatnonzero(rel.conformable[v_bass]).tolist() == [a_bass, IDX["b", "bass"]]
    assert not rel.conformable[k_bass].any()  # alone in its group
    assert not (rel.exact & ~rel.conformable).any() and not (rel.conformable & rel.excluded).any()


def test_negative_types_of_top_hits() -> None:
    tops = [("b", "drums"), ("v", "bass"), ("kt", "bass"), ("k", "bass"), ("t", "bass"), ("s", "bass"), ("u", "bass")]
    labels = CompatLabels(_labels([("a", "bass")] * len(tops)), _labels(ITEMS))
    types = negative_types(labels, np.array([IDX[t] for t in tops]))
    assert [NEGATIVE_TYPES[k] for k in types] == list(NEGATIVE_TYPES)


def test_rank_relevant_by_hand() -> None:
    # Twelve references; after sorting the relevant ones (1 and 4) are 2nd and 5th. Reference 2 ties with the
    # relevant reference 4 and ranks before it (ties count against the relevant ones).
    scores = np.array([[0.9, 0.8, 0.5, 0.6, 0.5, 0.55, 0.1, 0.2, 0.3, 0.0, -0.1, -0.2]])
    relevant = np.zeros((1, 12), bool)
    relevant[0, [1, 4]] = True
    ranked = rank_relevant(scores, relevant, np.ones((1, 12), bool), ks=(1, 10))
    # order: 0 (.9), 1* (.8), 3 (.6), 5 (.55), 2 (.5), 4* (.5), ...
    assert ranked.first.tolist() == [2] and ranked.pool.tolist() == [12] and ranked.relevant.tolist() == [2]
    assert ranked.hits_at[1].tolist() == [False] and ranked.hits_at[10].tolist() == [True]
    assert ranked.ap[0] == pytest.approx((1 / 2 + 2 / 6) / 2)
    assert ranked.ndcg[0] == pytest.approx((1 / math.log2(3) + 1 / math.log2(7)) / (1 + 1 / math.log2(3)))
    assert ranked.top.tolist() == [0]
    # Outside the gallery nothing counts: without reference 0 the first relevant is on top.
    allowed = np.ones((1, 12), bool)
    allowed[0, 0] = False
    narrowed = rank_relevant(scores, relevant, allowed, ks=(1,))
    assert narrowed.first.tolist() == [1] and narrowed.pool.tolist() == [11] and narrowed.top.tolist() == [1]


def _scores() -> tuple[np.ndarray, CompatLabels]:
    """Three queries (a's bass, v's bass, k's bass) against all sixteen stems."""
    queries = [("a", "bass"), ("v", "bass"), ("k", "bass")]
    scores = np.zeros((3, len(ITEMS)))
    scores[0, IDX["v", "bass"]], scores[0, IDX["b", "bass"]] = 0.9, 0.8
    scores[1, IDX["a", "drums"]], scores[1, IDX["a", "bass"]], scores[1, IDX["b", "bass"]] = 0.9, 0.5, 0.4
    scores[2, IDX["t", "bass"]] = 1.0
    return scores, CompatLabels(_labels(queries), _labels(ITEMS))


def test_metrics_of_both_levels_and_protocols_by_hand() -> None:
    scores, labels = _scores()
    out = evaluate_compat_scores(scores, labels, ["bass", "drums"], n_boot=50)
    # exact: only a's query has a relevant stem (b's bass), ranked 2nd behind the variant's bass.
    for protocol, gallery in (("A", 14), ("B", 7)):
        exact = out[protocol]["exact"]
        assert exact["queries"] == 1 and exact["gallery_mean"] == gallery
        m = exact["metrics"]
        assert (m["R@1"], m["R@10"], m["mAP"]) == (0.0, 100.0, 50.0)
        assert m["nDCG@10"] == pytest.approx(100 / math.log2(3))
        assert m["mean_norm_rank"] == pytest.approx(100 * 2 / gallery)
        assert exact["top1"]["conformable variant"] == 100.0 and exact["top1"]["relevant"] == 0.0
    # conformable, A: a's query finds v first (rank 1); v's query has a's drums on top, then a's and b's basses.
    conf = out["A"]["conformable"]
    assert conf["queries"] == 2 and conf["relevant_mean"] == 2.0
    m = conf["metrics"]
    assert (m["R@1"], m["R@10"]) == (50.0, 100.0)
    assert m["mAP"] == pytest.approx(100 * (1 + (1 / 2 + 2 / 3) / 2) / 2)
    second = (1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert m["nDCG@10"] == pytest.approx(100 * (1 + second) / 2)
    assert m["mean_norm_rank"] == pytest.approx(100 * (1 / 14 + 2 / 14) / 2)
    assert m["median_norm_rank"] == pytest.approx(100 * (1 / 14 + 2 / 14) / 2)
    assert conf["top1"] == {"relevant": 50.0, "wrong instrument": 50.0} | {
        t: 0.0 for t in NEGATIVE_TYPES if t != "wrong instrument"
    }
    assert conf["per_instrument_R@1"] == {"bass": 50.0}
    # conformable, B: the drums are out of the gallery, so both queries find a relevant bass first.
    m = out["B"]["conformable"]["metrics"]
    assert (m["R@1"], m["mAP"], m["nDCG@10"]) == (100.0, 100.0, 100.0)
    assert m["mean_norm_rank"] == pytest.approx(100 / 7)
    lo, hi = out["A"]["conformable"]["ci95"]["R@1"]
    assert 0.0 <= lo <= 50.0 <= hi <= 100.0


def test_stacked_draws_are_scored_like_one() -> None:
    scores, labels = _scores()
    one = evaluate_compat_scores(scores, labels, ["bass", "drums"], n_boot=0)
    two = evaluate_compat_scores(np.vstack([scores, scores]), labels, ["bass", "drums"], n_boot=0)
    assert two["A"]["conformable"]["queries"] == 2
    for protocol in ("A", "B"):
        for level in ("exact", "conformable"):
            assert one[protocol][level]["metrics"] == two[protocol][level]["metrics"]
    with pytest.raises(ValueError):
        evaluate_compat_scores(scores[:2], labels, ["bass"])


def test_compat_set_reads_groups_from_metadata_and_refuses_plain_songs() -> None:
    songs = [labelled_song(f"s{i}", 0, "major", 100.0, 2.0) for i in range(3)]
    for i, song in enumerate(songs):
        song.metadata.update(group=i // 2, role="sibling", transpose_semitones=0, tempo_ratio=1.0, style="rock")
    cset = compat_set(songs)
    assert len(cset.pairs) == 12 and cset.instruments == ["bass", "drums", "other", "vocals"]
    assert cset.labels.queries.groups.tolist() == [0] * 8 + [1] * 4
    del songs[2].metadata["group"]
    with pytest.raises(NotASiblingCorpusError):
        compat_set(songs)
