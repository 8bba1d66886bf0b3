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


def build_retrieval_set(
    embedder: Embedder,
    songs: Sequence[tuple[str, dict[str, np.ndarray]]],
    reference: Encoder | None = None,
    silence_dbfs: float = -50.0,
) -> RetrievalSet:
    """songs: (song id, {instrument: mono waveform at the model rate}). Silent stems are neither queries
    nor references (their "missing stem" is not a thing to find)."""
    ref_waves: list[np.ndarray] = []
    mixes: list[np.ndarray] = []
    ref_inst: list[str] = []
    ref_song: list[str] = []
    q_inst: list[str] = []
    q_song: list[str] = []
    truth: list[int] = []
    for song_id, stems in songs:
        live = {k: w for k, w in stems.items() if rms_dbfs(w) > silence_dbfs}
        if len(live) < 2:
            continue
        length = min(len(w) for w in live.values())
        base = len(ref_waves)
        for i, (inst, wave) in enumerate(sorted(live.items())):
            ref_waves.append(wave[:length])
            ref_inst.append(inst)
            ref_song.append(song_id)
            others = [w[:length] for k, w in live.items() if k != inst]
            mixes.append(np.sum(others, axis=0).astype(np.float32))
            q_inst.append(inst)
            q_song.append(song_id)
            truth.append(base + i)
    refs = embedder.embed_stems(ref_waves, reference)
    queries = embedder.predict(mixes, q_inst)
    return RetrievalSet(
        np.stack([q.vector for q in queries]) if queries else np.zeros((0, embedder.dim), np.float32),
        np.stack([r.vector for r in refs]) if refs else np.zeros((0, embedder.dim), np.float32),
        np.asarray(truth, dtype=np.int64), q_inst, q_song, ref_inst, ref_song,
    )


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
