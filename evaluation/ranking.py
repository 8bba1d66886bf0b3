"""Retrieval metrics over a score matrix: protocols A and B, per-instrument recall, same-song rate,
the failure analysis of the paper's Figure 2, the confusion matrix and song-level bootstrap intervals;
and rankings with several relevant references (R@k, AP, nDCG, first relevant rank) for compatibility.

Ranks come from model.validate.ranks_of_truth (the rule training validation uses, ties counted against
the truth); everything here works on a [Q, R] score matrix so that learned embeddings and baselines such
as mashability are measured by the same code.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np

from model.validate import RetrievalSet, ranks_of_truth, summarise_ranks

CATEGORIES = ("both correct", "right instrument, other song", "right song, other instrument", "both wrong")
BOOTSTRAP_METRICS = ("R@1", "R@5", "R@10", "mean_norm_rank", "median_norm_rank", "same_song_rate")


@dataclass(frozen=True)
class Labels:
    """Who is who in a retrieval set. truth[q] = index of query q's own stem among the references."""

    query_songs: np.ndarray  # [Q] str
    query_instruments: np.ndarray  # [Q] str
    ref_songs: np.ndarray  # [R] str
    ref_instruments: np.ndarray  # [R] str
    truth: np.ndarray  # [Q] int

    @classmethod
    def of(cls, rs: RetrievalSet) -> "Labels":
        return cls(
            np.asarray(rs.query_songs),
            np.asarray(rs.query_instruments),
            np.asarray(rs.ref_songs),
            np.asarray(rs.ref_instruments),
            np.asarray(rs.truth, dtype=np.int64),
        )

    def tiled(self, times: int) -> "Labels":
        """The queries repeated `times` times (for baselines averaged over several random draws)."""
        return Labels(
            np.tile(self.query_songs, times),
            np.tile(self.query_instruments, times),
            self.ref_songs,
            self.ref_instruments,
            np.tile(self.truth, times),
        )

    def same_instrument(self) -> np.ndarray:
        """[Q, R] bool: protocol B's candidates."""
        return self.query_instruments[:, None] == self.ref_instruments[None, :]


def ranks(scores: np.ndarray, truth: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray:
    """1-based rank of each query's truth in a [Q, R] score matrix (higher = better), by ranks_of_truth:
    scores @ I equals scores exactly, so the rule is the training validation's own."""
    eye = np.eye(scores.shape[1], dtype=scores.dtype)
    return ranks_of_truth(scores, eye, truth, allowed)


def top_hits(scores: np.ndarray, truth: np.ndarray, rank: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray:
    """Index of each query's top hit: the truth when its rank is 1, else the best other candidate, so that
    "both correct" is exactly R@1 (the paper's footnote) even with ties."""
    s = scores if allowed is None else np.where(allowed, scores, -np.inf)
    s = s.copy()
    s[np.arange(len(truth)), truth] = -np.inf
    best_other = s.argmax(axis=1)
    return np.where(rank == 1, truth, best_other)


def failure_table(labels: Labels, top: np.ndarray, instruments: list[str]) -> dict[str, dict[str, float]]:
    """Per queried instrument (and 'all'): percent of top hits in each CATEGORY, plus the query count."""
    right_inst = labels.ref_instruments[top] == labels.query_instruments
    right_song = labels.ref_songs[top] == labels.query_songs
    cat = np.select([right_inst & right_song, right_inst, right_song], [0, 1, 2], 3)
    out = {}
    for inst in [*instruments, "all"]:
        sel = np.ones(len(top), bool) if inst == "all" else labels.query_instruments == inst
        n = int(sel.sum())
        row = {c: float(np.mean(cat[sel] == i) * 100) if n else float("nan") for i, c in enumerate(CATEGORIES)}
        out[inst] = {**row, "queries": float(n)}
    return out


def confusion(labels: Labels, top: np.ndarray, instruments: list[str]) -> dict[str, Any]:
    """Queried instrument (rows) x instrument of the top hit (columns): counts and row percentages."""
    index = {name: i for i, name in enumerate(instruments)}
    counts = np.zeros((len(instruments), len(instruments)), dtype=np.int64)
    for q_inst, r_inst in zip(labels.query_instruments, labels.ref_instruments[top], strict=True):
        counts[index[q_inst], index[r_inst]] += 1
    rows = counts.sum(axis=1, keepdims=True)
    percent = np.divide(counts * 100.0, rows, out=np.full(counts.shape, np.nan), where=rows > 0)
    return {"instruments": instruments, "counts": counts.tolist(), "percent": percent.tolist()}


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """values [Q], weights [B, Q] -> [B] medians (lower weighted median)."""
    order = np.argsort(values)
    v, w = values[order], weights[:, order]
    cum = np.cumsum(w, axis=1)
    idx = (cum < cum[:, -1:] / 2.0).sum(axis=1)
    return v[np.minimum(idx, len(v) - 1)]


def resample_weights(units: np.ndarray, n_boot: int, seed: int = 0) -> np.ndarray:
    """[B, Q] weight of each query in each of n_boot resamples that draw units (songs) with replacement and
    carry all their queries along."""
    uniq, unit_idx = np.unique(units, return_inverse=True)
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(len(uniq), np.full(len(uniq), 1.0 / len(uniq)), size=n_boot)  # [B, S]
    return draws[:, unit_idx].astype(np.float64)


def bootstrap_stats(
    values: dict[str, np.ndarray],
    units: np.ndarray,
    n_boot: int = 1000,
    seed: int = 0,
    medians: tuple[str, ...] = (),
) -> dict[str, list[float]]:
    """95 % intervals of the mean of each [Q] array (the median for names in medians) under a unit-level
    bootstrap (resample_weights); values in fractions, intervals in percent."""
    if n_boot <= 0 or len(units) == 0:
        return {}
    w = resample_weights(units, n_boot, seed)
    total = w.sum(axis=1)
    out = {}
    for name, v in values.items():
        stat = _weighted_median(v, w) if name in medians else w @ v / total
        out[name] = [float(np.percentile(stat, 2.5) * 100), float(np.percentile(stat, 97.5) * 100)]
    return out


def bootstrap(
    rank: np.ndarray, pool: np.ndarray, same_song: np.ndarray, songs: np.ndarray, n_boot: int = 1000, seed: int = 0
) -> dict[str, list[float]]:
    """Song-level bootstrap 95 % intervals: songs are drawn with replacement and carry all their queries.

    Args:
        rank: [Q] 1-based ranks. pool: [Q] candidate counts. same_song: [Q] bool. songs: [Q] song ids.
    Returns:
        metric -> [low, high] in percent.
    """
    values = {
        "R@1": (rank <= 1).astype(np.float64),
        "R@5": (rank <= 5).astype(np.float64),
        "R@10": (rank <= 10).astype(np.float64),
        "mean_norm_rank": rank / pool,
        "median_norm_rank": rank / pool,
        "same_song_rate": same_song.astype(np.float64),
    }
    return bootstrap_stats(values, songs, n_boot, seed, medians=("median_norm_rank",))


@dataclass(frozen=True)
class RelevantRanks:
    """Per query of a ranking with any number of relevant references (all [Q]).

    Attributes:
        first: 1-based rank of the best-ranked relevant reference among the allowed ones (0 where none).
        pool: allowed references (the gallery size).
        relevant: relevant references in the gallery.
        hits_at: {k: whether a relevant reference is within the top k}.
        ap: average precision (0 where none).
        ndcg: nDCG at ndcg_k with binary gains (0 where none).
        top: index of the top-ranked allowed reference.
    """

    first: np.ndarray
    pool: np.ndarray
    relevant: np.ndarray
    hits_at: dict[int, np.ndarray]
    ap: np.ndarray
    ndcg: np.ndarray
    top: np.ndarray


def rank_relevant(
    scores: np.ndarray, relevant: np.ndarray, allowed: np.ndarray, ks: tuple[int, ...] = (1, 10), ndcg_k: int = 10,
    credit: np.ndarray | None = None,
) -> RelevantRanks:
    """Rank the allowed references of each query by score (higher first) and measure where the relevant ones land.

    Ties count against the relevant references (a non-relevant reference with an equal score ranks first), as
    in ranks_of_truth.

    Args:
        scores: [Q, R]. relevant: [Q, R] bool (only allowed cells count). allowed: [Q, R] bool, the gallery.
        credit: [Q, R] bool, optional: only relevant references also credited count as found (R@k, first rank,
            AP and nDCG), while the relevant count (the AP and nDCG denominators, and which queries are
            covered) stays that of `relevant`. For answers that are right only with a right suggestion.
    """
    rel = relevant & allowed
    good = rel if credit is None else rel & credit
    masked = np.where(allowed, scores, -np.inf)
    order = np.lexsort((good.astype(np.int8), -masked), axis=-1)  # score descending, then non-relevant first
    hit = np.take_along_axis(good, order, axis=1)  # [Q, R] credited relevance in ranked order
    n_rel = rel.sum(axis=1)
    found = hit.sum(axis=1)
    position = np.arange(1, scores.shape[1] + 1)
    first = np.where(found > 0, hit.argmax(axis=1) + 1, 0)
    precision = np.cumsum(hit, axis=1) / position
    ap = np.divide((precision * hit).sum(axis=1), n_rel, out=np.zeros(len(n_rel)), where=n_rel > 0)
    discount = 1.0 / np.log2(position[:ndcg_k] + 1)
    dcg = (hit[:, :ndcg_k] * discount).sum(axis=1)
    ideal = np.cumsum(discount)[np.clip(np.minimum(n_rel, ndcg_k) - 1, 0, None)]
    ndcg = np.where(n_rel > 0, dcg / ideal, 0.0)
    return RelevantRanks(
        first=first,
        pool=allowed.sum(axis=1),
        relevant=n_rel,
        hits_at={k: (found > 0) & (first <= k) for k in ks},
        ap=ap,
        ndcg=ndcg,
        top=order[:, 0],
    )


def distinct_top_hits(top: np.ndarray, draws: int = 1) -> float:
    """How many different references are some query's top hit (per draw, for stacked random draws): few means
    hubs, references that top many unrelated queries."""
    if draws <= 1:
        return float(len(np.unique(top)))
    return float(np.mean([len(np.unique(part)) for part in np.array_split(top, draws)]))


def evaluate_scores(
    scores: np.ndarray, labels: Labels, instruments: list[str], n_boot: int = 1000, seed: int = 0,
    scores_b: np.ndarray | None = None,
) -> dict[str, Any]:
    """Everything the retrieval report says about one system, from its [Q, R] score matrix (and, for a system
    that scores each protocol's gallery on its own, such as a fusion standardised over its candidates, its
    protocol-B matrix `scores_b`)."""
    out: dict[str, Any] = {}
    same = labels.same_instrument()
    for protocol, allowed in (("A", None), ("B", same)):
        if protocol == "B" and scores_b is not None:
            scores = scores_b
        rank = ranks(scores, labels.truth, allowed)
        pool = np.full(len(rank), scores.shape[1]) if allowed is None else allowed.sum(axis=1)
        top = top_hits(scores, labels.truth, rank, allowed)
        same_song = (labels.ref_songs[top] == labels.query_songs) & (top != labels.truth)
        metrics = summarise_ranks(rank, pool)
        metrics["same_song_rate"] = float(same_song.mean() * 100)
        metrics["distinct_top1"] = float(distinct_top_hits(top, len(labels.truth) // max(1, len(set(labels.truth)))))
        per_inst = {
            i: float(np.mean(rank[labels.query_instruments == i] <= 1) * 100)
            for i in instruments
            if np.any(labels.query_instruments == i)
        }
        out[protocol] = {
            "metrics": metrics,
            "ci95": bootstrap(rank, pool, same_song, labels.query_songs, n_boot, seed),
            "per_instrument_R@1": per_inst,
        }
        if protocol == "A":  # Figure 2 is about the unrestricted search
            out["failure"] = failure_table(labels, top, instruments)
            out["confusion"] = confusion(labels, top, instruments)
    return out
