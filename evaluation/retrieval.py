"""The retrieval evaluation of paper section 4.1: model checkpoints (both reference encoders) and baselines
scored on the same queries, by the metrics of evaluation.ranking."""

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from analysis.compatibility import DEFAULT_WEIGHTS, Conform
from evaluation.baselines import mash_features, mashability, random_scores
from evaluation.musical import hub_matrix, musical_systems, pair_inputs
from evaluation.ranking import Labels, evaluate_scores
from evaluation.songs import EvalSong, query_pairs
from model.embed import Embedder
from model.validate import QueryPair, embed_pairs

log = logging.getLogger(__name__)

MAX_RANDOM_CELLS = 5_000_000  # random baseline: draws x queries x references kept in memory at once


@dataclass(frozen=True)
class System:
    """One row of the report: a name, its [Q, R] score matrix and the labels of its queries/references."""

    name: str
    scores: np.ndarray
    labels: Labels
    scores_b: np.ndarray | None = None  # protocol B's own matrix, where the system standardises per gallery
    refs: np.ndarray | None = None  # [R, D] the reference vectors of a model system


def pair_labels(pairs: Sequence[QueryPair]) -> Labels:
    """Labels of a retrieval set whose references are the queries' own stems, in the same order."""
    songs = np.asarray([p.song_id for p in pairs])
    insts = np.asarray([p.instrument for p in pairs])
    return Labels(songs, insts, songs, insts, np.arange(len(pairs), dtype=np.int64))


def checkpoint_labels(paths: Sequence[str | Path | None]) -> list[str]:
    """Short unique names: folder/file (runs/a/best.pt -> a/best), numbered where they still repeat."""
    short = [f"{Path(p).parent.name}/{Path(p).name.removesuffix('.pt')}" if p is not None else "bundled" for p in paths]
    return [f"{s} #{i + 1}" if short.count(s) > 1 else s for i, s in enumerate(short)]


def model_systems(
    embedder: Embedder, pairs: Sequence[QueryPair], label: str, context: bool = True
) -> list[System]:
    """Queries from the predictor; references (the pairs' own stems) from the target encoder (via
    model.validate.embed_pairs) and, with context, from the context encoder too."""
    t0 = time.perf_counter()
    rs = embed_pairs(embedder, pairs, reference="target")
    labels = Labels.of(rs)
    systems = [System(f"{label} · target", rs.queries @ rs.refs.T, labels, refs=rs.refs)]
    if context:
        refs = np.stack([e.vector for e in embedder.embed_stems([p.stem for p in pairs], "context")])
        systems.append(System(f"{label} · context", rs.queries @ refs.T, labels))
    log.info(
        "%s: embedded %d queries and %d x %d references in %.1f s",
        label,
        len(rs.truth),
        len(systems),
        len(rs.refs),
        time.perf_counter() - t0,
    )
    return systems


def baseline_systems(pairs: Sequence[QueryPair], sample_rate: int, seed: int = 0, mash: bool = True) -> list[System]:
    """Random (averaged over several draws) and mashability, on the same queries as the model."""
    labels = pair_labels(pairs)
    n = len(pairs)
    draws = int(max(1, min(50, MAX_RANDOM_CELLS // max(1, n * n))))
    out = [System("random", random_scores(draws * n, n, seed), labels.tiled(draws))]
    if mash:
        feats_q = mash_features([p.mix for p in pairs], sample_rate)
        feats_r = mash_features([p.stem for p in pairs], sample_rate)
        out.append(System("mashability (AutoMashupper-style)", mashability(feats_q, feats_r), labels))
    return out


def evaluate_retrieval(
    songs: Sequence[EvalSong],
    checkpoints: Sequence[str | Path | None],
    device: str = "auto",
    batch_size: int = 16,
    n_boot: int = 1000,
    seed: int = 0,
    baselines: bool = True,
    musical: bool = True,
) -> dict[str, Any]:
    """Runs every checkpoint and the baselines on `songs`; returns the report (see write_retrieval_report).
    With `musical`, the features alone and their fusion with the first checkpoint's model (the service's
    ranking, analysis.compatibility.DEFAULT_WEIGHTS) are measured too."""
    t0 = time.perf_counter()
    pairs = query_pairs(songs)
    if not pairs:
        raise ValueError("no song has two or more non-silent stems: nothing to retrieve")
    systems: list[System] = []
    instruments: list[str] = []
    sample_rate = 16_000
    centres = None
    for path, label in zip(checkpoints, checkpoint_labels(checkpoints), strict=True):
        embedder = Embedder.from_checkpoint(path, device=device, batch_size=batch_size)
        sample_rate = embedder.sample_rate
        centres = centres if systems else embedder.query_centres
        instruments = instruments or list(embedder.vocabulary.names)
        systems += model_systems(embedder, pairs, f"{label} [{embedder.cfg.name}]")
        del embedder
    if musical and systems:
        hub = hub_matrix(centres, np.asarray([p.instrument for p in pairs]), systems[0].refs)
        inputs = pair_inputs(pairs, systems[0].scores, sample_rate, hub)
        for m in musical_systems(inputs, DEFAULT_WEIGHTS, {"": Conform()}):
            name = m.name if m.name.startswith("features") else f"{m.name}: {systems[0].name} + features"
            systems.append(System(name, m.scores, pair_labels(pairs), m.scores_b))
    if baselines:
        systems += baseline_systems(pairs, sample_rate, seed)
    instruments = instruments or sorted({p.instrument for p in pairs})
    results = {}
    for system in systems:
        results[system.name] = evaluate_scores(system.scores, system.labels, instruments, n_boot, seed,
                                               system.scores_b)
    return {
        "songs": len({p.song_id for p in pairs}),
        "queries": len(pairs),
        "references": len(pairs),
        "instruments": instruments,
        "bootstrap_resamples": n_boot,
        "systems": results,
        "seconds": round(time.perf_counter() - t0, 1),
    }
