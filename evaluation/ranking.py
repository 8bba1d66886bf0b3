"""Retrieval metrics over a score matrix: protocols A and B, per-instrument recall, same-song rate,
the failure analysis of the paper's Figure 2, the confusion matrix and song-level bootstrap intervals.

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


def bootstrap(
    rank: np.ndarray, pool: np.ndarray, same_song: np.ndarray, songs: np.ndarray, n_boot: int = 1000, seed: int = 0
) -> dict[str, list[float]]:
    """Song-level bootstrap 95 % intervals: songs are drawn with replacement and carry all their queries.

    Args:
        rank: [Q] 1-based ranks. pool: [Q] candidate counts. same_song: [Q] bool. songs: [Q] song ids.
    Returns:
        metric -> [low, high] in percent.
    """
    if n_boot <= 0 or len(rank) == 0:
        return {}
    uniq, song_idx = np.unique(songs, return_inverse=True)
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(len(uniq), np.full(len(uniq), 1.0 / len(uniq)), size=n_boot)  # [B, S]
    w = draws[:, song_idx].astype(np.float64)  # [B, Q] weight of each query in each resample
    total = w.sum(axis=1)
    norm = rank / pool
    stats = {
        "R@1": w @ (rank <= 1) / total,
        "R@5": w @ (rank <= 5) / total,
        "R@10": w @ (rank <= 10) / total,
        "mean_norm_rank": w @ norm / total,
        "median_norm_rank": _weighted_median(norm, w),
        "same_song_rate": w @ same_song / total,
    }
    return {k: [float(np.percentile(v, 2.5) * 100), float(np.percentile(v, 97.5) * 100)] for k, v in stats.items()}


def evaluate_scores(
    scores: np.ndarray, labels: Labels, instruments: list[str], n_boot: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """Everything the retrieval report says about one system, from its [Q, R] score matrix."""
    out: dict[str, Any] = {}
    same = labels.same_instrument()
    for protocol, allowed in (("A", None), ("B", same)):
        rank = ranks(scores, labels.truth, allowed)
        pool = np.full(len(rank), scores.shape[1]) if allowed is None else allowed.sum(axis=1)
        top = top_hits(scores, labels.truth, rank, allowed)
        same_song = (labels.ref_songs[top] == labels.query_songs) & (top != labels.truth)
        metrics = summarise_ranks(rank, pool)
        metrics["same_song_rate"] = float(same_song.mean() * 100)
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
