"""Cross-song compatibility: does a system find stems of *other* songs that fit a mix, on sibling-song corpora.

On a corpus from `stemjepa synth --siblings` (groups of songs sharing one plan, plus variants of the plan
transposed or at another tempo), each song's live stems are the references and, for each of them, the mix
of the song's other stems is a query for that instrument. The query's own song is never in the gallery.

Relevance levels:
- exact: the queried instrument's stem of another song with the same plan (a sibling of a sibling; a
  variant has such songs only if another variant got the same shift, so variant queries mostly fall out);
- conformable: the queried instrument's stem of any other song of the group (siblings and variants), i.e.
  relevant once the system also suggests the transposition and tempo change that make it fit;
- conformed: the conformable stems, each found only where the system's suggested transposition (pitched
  instruments) and stretch (within 2 %) are the ones that make it fit; a system without suggestions suggests
  none, which is right for the siblings only.

Systems are [Q, R] score matrices over one `CompatSet`, so the model, the baselines and any later system
(features alone, fusions) are measured by the same code: `evaluate_compatibility(cset, systems, ...)`.
"""

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from analysis.compatibility import DEFAULT_WEIGHTS, Conform
from evaluation.content import TEMPO_TOLERANCE
from evaluation.musical import hub_matrix, musical_systems, pair_inputs
from evaluation.ranking import bootstrap_stats, distinct_top_hits, rank_relevant
from evaluation.retrieval import baseline_systems, checkpoint_labels, model_systems
from evaluation.songs import EvalSong, QueryPair, query_pairs
from model.embed import Embedder

log = logging.getLogger(__name__)

LEVELS = ("exact", "conformable", "conformed")
STRETCH_TOLERANCE = 0.02  # a suggested stretch within 2 % of the needed one counts as right
PROTOCOLS = ("A", "B")
NEGATIVE_TYPES = (
    "wrong instrument",
    "conformable variant",
    "same key and tempo, other plan",
    "same key, other tempo",
    "same tempo, other key",
    "same style, other plan",
    "unrelated",
)
TOP1 = ("relevant", *NEGATIVE_TYPES)  # what the top hit of a query is
METRICS = ("R@1", "R@10", "mAP", "nDCG@10", "mean_norm_rank", "median_norm_rank")
LEVEL_MEANING = {
    "exact": "relevant = the queried instrument's stem of another song with the same plan (key, tempo, meter, "
    "chords, sections)",
    "conformable": "relevant = the queried instrument's stem of any other song of the group, the variants "
    "(transposed or at another tempo) included: they fit once the system also suggests the shift",
    "conformed": "relevant = the conformable stems, each counted as found only with the right suggested "
    "transposition (pitched instruments) and stretch (within 2 %); no suggestion is right for siblings only",
}
COVERAGE = {
    "exact": "queries with another song of their own plan in the group (siblings' queries)",
    "conformable": "queries with another song of their group (every query of a group of two or more)",
    "conformed": "as conformable",
}


class NotASiblingCorpusError(ValueError):
    """Songs without the group metadata that `stemjepa synth --siblings` writes."""


@dataclass(frozen=True)
class PlanLabels:
    """The song, instrument and plan of each item (query or reference), all [N] arrays.

    Attributes:
        groups: sibling group id. tonics: key tonic pitch class 0-11. modes: mode name. tempi: BPM.
        transposes: semitones from the group's plan. ratios: tempo ratio to the group's plan.
    """

    songs: np.ndarray
    instruments: np.ndarray
    groups: np.ndarray
    tonics: np.ndarray
    modes: np.ndarray
    tempi: np.ndarray
    styles: np.ndarray
    roles: np.ndarray
    transposes: np.ndarray
    ratios: np.ndarray

    @classmethod
    def of(cls, pairs: Sequence[QueryPair], songs: Sequence[EvalSong]) -> "PlanLabels":
        """Labels of the pairs' songs from their metadata.json.

        Raises:
            NotASiblingCorpusError: a song lacks the group, key or tempo metadata of a sibling corpus.
        """
        meta = {s.song_id: s.metadata for s in songs}
        missing = sorted({p.song_id for p in pairs if "group" not in meta[p.song_id]})
        if missing:
            raise NotASiblingCorpusError(
                f"{len(missing)} songs (e.g. {missing[0]}) have no sibling group in metadata.json; "
                "render the corpus with `stemjepa synth OUT --siblings K`"
            )
        m = [meta[p.song_id] for p in pairs]
        return cls(
            songs=np.asarray([p.song_id for p in pairs]),
            instruments=np.asarray([p.instrument for p in pairs]),
            groups=np.asarray([int(x["group"]) for x in m], dtype=np.int64),
            tonics=np.asarray([int(x["tonic"]) for x in m], dtype=np.int64),
            modes=np.asarray([str(x["mode"]) for x in m]),
            tempi=np.asarray([float(x["tempo"]) for x in m]),
            styles=np.asarray([str(x.get("style")) for x in m]),
            roles=np.asarray([str(x.get("role", "sibling")) for x in m]),
            transposes=np.asarray([int(x.get("transpose_semitones", 0)) for x in m], dtype=np.int64),
            ratios=np.asarray([float(x.get("tempo_ratio", 1.0)) for x in m]),
        )

    def tiled(self, times: int) -> "PlanLabels":
        return PlanLabels(*(np.tile(v, times) for v in vars(self).values()))


@dataclass(frozen=True)
class CompatLabels:
    """Labels of the queries [Q] and the references [R] of a compatibility set."""

    queries: PlanLabels
    refs: PlanLabels

    def tiled(self, times: int) -> "CompatLabels":
        """The queries repeated times times (for systems that stack several random draws)."""
        return CompatLabels(self.queries.tiled(times), self.refs)


@dataclass(frozen=True)
class Relevance:
    """[Q, R] bool matrices: exact, conformable and conformed relevance, and the excluded cells (the query's
    own song)."""

    exact: np.ndarray
    conformable: np.ndarray
    excluded: np.ndarray
    conformed: np.ndarray | None = None

    def level(self, name: str) -> np.ndarray:
        """The relevant cells of a level (conformed: the conformable ones, credited by `credit`)."""
        return self.exact if name == "exact" else self.conformable

    def credit(self, name: str) -> np.ndarray | None:
        """Which relevant cells count as found: for "conformed" those rightly conformed, else all."""
        return self.conformed if name == "conformed" else None


def conformed(labels: CompatLabels, conformable: np.ndarray, transpose: np.ndarray | None,
              stretch: np.ndarray | None, unpitched: Sequence[str] = ("drums",)) -> np.ndarray:
    """[Q, R]: conformable cells whose suggested transposition (semitones to shift the stem; checked for
    pitched instruments, modulo the octave) and stretch (tempo factor for the stem; within
    STRETCH_TOLERANCE) are what the plans need. None means no suggestion: 0 semitones, factor 1."""
    q, r = labels.queries, labels.refs
    shape = conformable.shape
    t = np.zeros(shape, np.int64) if transpose is None else transpose
    s = np.ones(shape) if stretch is None else stretch
    need_t = q.transposes[:, None] - r.transposes[None, :]
    need_s = q.ratios[:, None] / r.ratios[None, :]
    pitched = ~np.isin(q.instruments, list(unpitched))[:, None]
    right_t = ((t - need_t) % 12 == 0) | ~pitched
    right_s = np.abs(np.log(s / need_s)) <= np.log1p(STRETCH_TOLERANCE)
    return conformable & right_t & right_s


def _pairwise(q: np.ndarray, r: np.ndarray) -> np.ndarray:
    return q[:, None] == r[None, :]


def relevance(labels: CompatLabels) -> Relevance:
    """Exact: same instrument, other song, same group and same plan (transposition and tempo ratio).
    Conformable: same instrument, other song, same group. Excluded: the query's own song."""
    q, r = labels.queries, labels.refs
    other_song = ~_pairwise(q.songs, r.songs)
    same_group = _pairwise(q.groups, r.groups)
    same_plan = same_group & _pairwise(q.transposes, r.transposes) & np.isclose(q.ratios[:, None], r.ratios[None, :])
    candidate = _pairwise(q.instruments, r.instruments) & other_song
    return Relevance(exact=candidate & same_plan, conformable=candidate & same_group, excluded=~other_song)


def negative_types(labels: CompatLabels, top: np.ndarray) -> np.ndarray:
    """[Q] index into NEGATIVE_TYPES of each query's top hit (top [Q]: reference indices), read as a wrong answer.

    The first that applies: wrong instrument; same group (another plan of it: a conformable variant, or a
    sibling for a variant's query); same key (tonic and mode) and tempo (within 4 %) in another group; same
    key only; same tempo only; same style only; unrelated.
    """
    q, r = labels.queries, labels.refs
    same_key = (q.tonics == r.tonics[top]) & (q.modes == r.modes[top])
    t_q, t_r = q.tempi, r.tempi[top]
    same_tempo = np.abs(t_q - t_r) <= TEMPO_TOLERANCE * np.maximum(t_q, t_r)
    conditions = [
        q.instruments != r.instruments[top],
        q.groups == r.groups[top],
        same_key & same_tempo,
        same_key,
        same_tempo,
        q.styles == r.styles[top],
    ]
    return np.select(conditions, list(range(len(conditions))), default=len(conditions)).astype(np.int64)


def _percent(mask: np.ndarray) -> float:
    return float(mask.mean() * 100) if len(mask) else float("nan")


def _level_result(
    scores: np.ndarray,
    labels: CompatLabels,
    relevant: np.ndarray,
    allowed: np.ndarray,
    instruments: list[str],
    n_boot: int,
    seed: int,
    draws: int = 1,
    credit: np.ndarray | None = None,
) -> dict[str, Any]:
    ranked = rank_relevant(scores, relevant, allowed, ks=(1, 10), ndcg_k=10, credit=credit)
    covered = ranked.relevant > 0
    norm = (ranked.first / np.maximum(ranked.pool, 1))[covered]
    values = {
        "R@1": ranked.hits_at[1][covered].astype(np.float64),
        "R@10": ranked.hits_at[10][covered].astype(np.float64),
        "mAP": ranked.ap[covered],
        "nDCG@10": ranked.ndcg[covered],
        "mean_norm_rank": norm,
        "median_norm_rank": norm,
    }
    metrics = {
        k: float((np.median(v) if k.startswith("median") else v.mean()) * 100) if len(v) else float("nan")
        for k, v in values.items()
    }
    q_inst = labels.queries.instruments[covered]
    top1 = np.where(ranked.hits_at[1], 0, negative_types(labels, ranked.top) + 1)[covered]
    return {
        "metrics": metrics,
        "queries": int(covered.sum()) // draws,  # per draw: stacked draws repeat every query
        "gallery_mean": float(ranked.pool[covered].mean()) if covered.any() else float("nan"),
        "relevant_mean": float(ranked.relevant[covered].mean()) if covered.any() else float("nan"),
        "ci95": bootstrap_stats(values, labels.queries.songs[covered], n_boot, seed, medians=("median_norm_rank",)),
        "per_instrument_R@1": {
            i: _percent(values["R@1"][q_inst == i] > 0) for i in instruments if np.any(q_inst == i)
        },
        "top1": {name: _percent(top1 == k) for k, name in enumerate(TOP1)},
        "distinct_top1": distinct_top_hits(ranked.top[covered], draws),
    }


def evaluate_compat_scores(
    scores: np.ndarray, labels: CompatLabels, instruments: list[str], n_boot: int = 1000, seed: int = 0,
    scores_b: np.ndarray | None = None, transpose: np.ndarray | None = None, stretch: np.ndarray | None = None,
) -> dict[str, Any]:
    """Everything the compatibility report says about one system, from its score matrix.

    Args:
        scores: [D * Q, R], higher = better; D > 1 stacks D draws of every query (random baselines).
        labels: the labels of the Q queries and R references.
        scores_b: protocol B's own matrix for a system that standardises per gallery (default: `scores`).
        transpose, stretch: [Q, R] the system's suggested conforming (default: none).
    Returns:
        {protocol: {level: {"metrics", "queries", "ci95", "per_instrument_R@1", "top1", ...}}}; metrics in %.
    """
    n_q = len(labels.queries.songs)
    if scores.shape[1] != len(labels.refs.songs) or n_q == 0 or scores.shape[0] % n_q:
        raise ValueError(f"scores {scores.shape} do not fit {n_q} queries and {len(labels.refs.songs)} references")
    draws = scores.shape[0] // n_q
    if draws > 1:
        labels = labels.tiled(draws)
        transpose = None if transpose is None else np.tile(transpose, (draws, 1))
        stretch = None if stretch is None else np.tile(stretch, (draws, 1))
    rel = relevance(labels)
    rel = Relevance(rel.exact, rel.conformable, rel.excluded, conformed(labels, rel.conformable, transpose, stretch))
    same_instrument = _pairwise(labels.queries.instruments, labels.refs.instruments)
    out: dict[str, Any] = {}
    for protocol, allowed in (("A", ~rel.excluded), ("B", ~rel.excluded & same_instrument)):
        matrix = scores_b if protocol == "B" and scores_b is not None else scores
        out[protocol] = {
            level: _level_result(matrix, labels, rel.level(level), allowed, instruments, n_boot, seed, draws,
                                 rel.credit(level))
            for level in LEVELS
        }
    return out


@dataclass(frozen=True)
class CompatSet:
    """The queries and references every system scores: pairs[i].mix is query i (for pairs[i].instrument) and
    pairs[i].stem is reference i; labels describe both."""

    songs: list[EvalSong]
    pairs: list[QueryPair]
    labels: CompatLabels

    @property
    def instruments(self) -> list[str]:
        return sorted({p.instrument for p in self.pairs})


def compat_set(songs: Sequence[EvalSong]) -> CompatSet:
    """Queries and references of a sibling corpus (evaluation.songs.query_pairs order)."""
    pairs = query_pairs(songs)
    if not pairs:
        raise ValueError("no song has two or more non-silent stems: nothing to retrieve")
    plan = PlanLabels.of(pairs, songs)
    return CompatSet(list(songs), pairs, CompatLabels(plan, plan))


@dataclass(frozen=True)
class CompatSystem:
    """One row of the report: a name and its [D * Q, R] score matrix over a CompatSet; optionally protocol B's
    own matrix and the system's suggested conforming [Q, R] (see evaluate_compat_scores)."""

    name: str
    scores: np.ndarray
    scores_b: np.ndarray | None = None
    transpose: np.ndarray | None = None
    stretch: np.ndarray | None = None
    refs: np.ndarray | None = None  # [R, D] the reference vectors of a model system


def model_compat_systems(embedder: Embedder, cset: CompatSet, label: str) -> list[CompatSystem]:
    """The model alone: predictor output for each query (pooled) against target-encoder stem vectors."""
    systems = model_systems(embedder, cset.pairs, label, context=False)
    return [CompatSystem(s.name, s.scores, refs=s.refs) for s in systems]


def baseline_compat_systems(cset: CompatSet, sample_rate: int, seed: int = 0) -> list[CompatSystem]:
    """Random (several stacked draws) and mashability, on the same queries and references."""
    return [CompatSystem(s.name, s.scores) for s in baseline_systems(cset.pairs, sample_rate, seed)]


CONFORM = Conform(max_transpose=5, max_stretch=0.08)  # the variants' range: +-1..5 semitones, x0.92..1.08


def musical_compat_systems(cset: CompatSet, model: CompatSystem, sample_rate: int,
                           centres: Mapping[str, np.ndarray] | None = None) -> list[CompatSystem]:
    """Features alone and fused with `model` (analysis.compatibility.DEFAULT_WEIGHTS), without conforming and
    conforming within CONFORM; each standardised over its protocol's gallery without the query's own song;
    with `centres`, the model's cosine is discounted for hubs within an instrument, as the service does."""
    hub = hub_matrix(centres, cset.labels.queries.instruments, model.refs)
    inputs = pair_inputs(cset.pairs, model.scores, sample_rate, hub)
    allowed = ~relevance(cset.labels).excluded
    conforms = {"": Conform(), f" (conforming +-{CONFORM.max_transpose} st, +-{CONFORM.max_stretch:.0%})": CONFORM}
    out = []
    for m in musical_systems(inputs, DEFAULT_WEIGHTS, conforms, allowed):
        name = m.name if m.name.startswith("features") else m.name.replace("fused", f"fused: {model.name} + features")
        out.append(CompatSystem(name, m.scores, m.scores_b, m.transpose, m.stretch))
    return out


def evaluate_compatibility(
    cset: CompatSet, systems: Sequence[CompatSystem], n_boot: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """Score every system on cset; returns the report (see evaluation.report.write_compatibility_report)."""
    instruments = cset.instruments
    results = {s.name: evaluate_compat_scores(s.scores, cset.labels, instruments, n_boot, seed, s.scores_b,
                                              s.transpose, s.stretch) for s in systems}
    q = cset.labels.queries
    return {
        "songs": len(set(q.songs.tolist())),
        "groups": len(set(q.groups.tolist())),
        "variants": len({s for s, role in zip(q.songs.tolist(), q.roles.tolist(), strict=True) if role == "variant"}),
        "queries": len(cset.pairs),
        "references": len(cset.pairs),
        "instruments": instruments,
        "level_meaning": LEVEL_MEANING,
        "coverage": COVERAGE,
        "bootstrap_resamples": n_boot,
        "systems": results,
    }


def run_compatibility(
    songs: Sequence[EvalSong],
    checkpoints: Sequence[str | Path | None],
    device: str = "auto",
    batch_size: int = 16,
    n_boot: int = 1000,
    seed: int = 0,
    baselines: bool = True,
    musical: bool = True,
) -> dict[str, Any]:
    """The model of each checkpoint, random and mashability on one sibling corpus, in one run; with
    `musical`, the features alone and their fusion with the first checkpoint's model too, as the service ranks
    (without conforming, and conforming within CONFORM)."""
    t0 = time.perf_counter()
    cset = compat_set(songs)
    systems: list[CompatSystem] = []
    sample_rate = 16_000
    centres = None
    for path, label in zip(checkpoints, checkpoint_labels(checkpoints), strict=True):
        embedder = Embedder.from_checkpoint(path, device=device, batch_size=batch_size)
        sample_rate = embedder.sample_rate
        centres = centres if systems else embedder.query_centres
        systems += model_compat_systems(embedder, cset, f"{label} [{embedder.cfg.name}]")
        del embedder
    if musical and systems:
        systems += musical_compat_systems(cset, systems[0], sample_rate, centres)
    if baselines:
        systems += baseline_compat_systems(cset, sample_rate, seed)
    report = evaluate_compatibility(cset, systems, n_boot, seed)
    report["seconds"] = round(time.perf_counter() - t0, 1)
    log.info("compatibility of %d systems on %d queries in %.1f s", len(systems), len(cset.pairs), report["seconds"])
    return report
