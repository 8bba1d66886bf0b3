"""The paper's retrieval check (4.1) in its smallest form, for validation during training.

For every song and every non-silent stem: the query is the predictor's output for the mix of the song's
other stems, conditioned on the stem's instrument; the reference set is every stem of every song. The
evaluation package builds the full report (protocols, bootstrap, failure analysis) on these functions.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from model.audio import rms_dbfs
from model.embed import Embedder, Encoder


@dataclass(frozen=True)
class RetrievalSet:
    """Embedded queries and references. queries/refs: [Q, D] / [R, D] unit vectors; truth[q] = index of the
    query's own stem in refs; ref_instruments/ref_songs and query_instruments/query_songs label them."""

    queries: np.ndarray
    refs: np.ndarray
    truth: np.ndarray
    query_instruments: list[str]
    query_songs: list[str]
    ref_instruments: list[str]
    ref_songs: list[str]


def ranks_of_truth(
    queries: np.ndarray, refs: np.ndarray, truth: np.ndarray, allowed: np.ndarray | None = None
) -> np.ndarray:
    """1-based rank of each query's true reference by inner product; `allowed` [Q, R] masks the candidates
    (protocol B: same instrument). Ties count against the truth (pessimistic)."""
    scores = queries @ refs.T  # [Q, R]
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
    true_scores = scores[np.arange(len(truth)), truth]
    return (scores >= true_scores[:, None]).sum(axis=1).astype(np.int64)


def summarise_ranks(ranks: np.ndarray, pool_sizes: np.ndarray) -> dict[str, float]:
    """R@1/5/10 in percent, mean/median normalised rank in percent (rank / pool size, paper 4.1.1)."""
    norm = ranks / pool_sizes
    return {
        "R@1": float(np.mean(ranks <= 1) * 100), "R@5": float(np.mean(ranks <= 5) * 100),
        "R@10": float(np.mean(ranks <= 10) * 100),
        "mean_norm_rank": float(norm.mean() * 100), "median_norm_rank": float(np.median(norm) * 100),
        "queries": float(len(ranks)),
    }


@dataclass(frozen=True)
class QueryPair:
    """One retrieval query: the stem to find [T] and the mix of the song's other live stems [T] (same length)."""

    song_id: str
    instrument: str
    stem: np.ndarray
    mix: np.ndarray


def query_pairs(songs: Sequence[tuple[str, dict[str, np.ndarray]]], silence_dbfs: float = -50.0) -> list[QueryPair]:
    """songs: (song id, {instrument: mono waveform at the model rate}) -> the queries, songs in order and each
    song's live stems sorted by instrument. Silent stems are neither queries nor references (their "missing
    stem" is not a thing to find), and songs with fewer than two live stems have no mix to query with."""
    pairs = []
    for song_id, stems in songs:
        live = {k: w for k, w in stems.items() if rms_dbfs(w) > silence_dbfs}
        if len(live) < 2:
            continue
        n = min(len(w) for w in live.values())
        for inst, wave in sorted(live.items()):
            mix = np.sum([w[:n] for k, w in live.items() if k != inst], axis=0).astype(np.float32)
            pairs.append(QueryPair(song_id, inst, wave[:n], mix))
    return pairs


def embed_pairs(embedder: Embedder, pairs: Sequence[QueryPair], reference: Encoder | None = None) -> RetrievalSet:
    """Queries: the predictor's output for each pair's mix and instrument; references: each pair's own stem
    (by the `reference` encoder), so truth[q] = q."""
    refs = embedder.embed_stems([p.stem for p in pairs], reference)
    queries = embedder.predict([p.mix for p in pairs], [p.instrument for p in pairs])
    instruments, songs = [p.instrument for p in pairs], [p.song_id for p in pairs]
    return RetrievalSet(
        np.stack([q.vector for q in queries]) if queries else np.zeros((0, embedder.dim), np.float32),
        np.stack([r.vector for r in refs]) if refs else np.zeros((0, embedder.dim), np.float32),
        np.arange(len(pairs), dtype=np.int64), instruments, songs, list(instruments), list(songs),
    )


def build_retrieval_set(
    embedder: Embedder,
    songs: Sequence[tuple[str, dict[str, np.ndarray]]],
    reference: Encoder | None = None,
    silence_dbfs: float = -50.0,
) -> RetrievalSet:
    """The retrieval set of `songs` ((song id, {instrument: wave})): `embed_pairs` of their `query_pairs`."""
    return embed_pairs(embedder, query_pairs(songs, silence_dbfs), reference)


def retrieval_metrics(rs: RetrievalSet) -> dict[str, dict[str, float]]:
    """Protocol A (all stems are candidates) and B (only stems of the queried instrument)."""
    if len(rs.truth) == 0:
        return {}
    ranks_a = ranks_of_truth(rs.queries, rs.refs, rs.truth)
    same = np.asarray(rs.query_instruments)[:, None] == np.asarray(rs.ref_instruments)[None, :]
    ranks_b = ranks_of_truth(rs.queries, rs.refs, rs.truth, same)
    return {
        "A": summarise_ranks(ranks_a, np.full(len(ranks_a), len(rs.refs))),
        "B": summarise_ranks(ranks_b, same.sum(axis=1)),
    }
