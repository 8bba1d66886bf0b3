"""Frozen copy of analysis/compatibility.py before the musical shortlist read candidates prepared once per build
and rotated the query instead of the candidates (commit 3194227): the oracle of
tests/analysis/test_compatibility_speed.py. Not imported by the product."""

from collections.abc import Collection, Mapping
from dataclasses import dataclass, fields, replace

import numpy as np

from analysis.alignment import UNPITCHED_INSTRUMENTS
from analysis.key import rotate_profile
from analysis.music import FEATURES
from analysis.tempo import FOLD_BINS, tempo_ratio

PARTS = ("model", "key", "chroma", "tempo", "rhythm")


@dataclass(frozen=True)
class CompatWeights:
    """Weights of the fused score's parts (each a z-score over one query's candidates)."""

    model: float = 1.0
    key: float = 0.0
    chroma: float = 0.0
    tempo: float = 0.0
    rhythm: float = 0.0

    def for_instrument(self, instrument: str, unpitched: Collection[str] = UNPITCHED_INSTRUMENTS) -> "CompatWeights":
        """These weights for a query of `instrument`: unpitched stems (drums) have no key or pitch classes."""
        return replace(self, key=0.0, chroma=0.0) if instrument in unpitched else self

    def as_dict(self) -> dict[str, float]:
        return {f.name: float(getattr(self, f.name)) for f in fields(self)}

    @property
    def musical(self) -> bool:
        """Whether any musical feature takes part (else the fused ranking is the model's)."""
        return bool(self.key or self.chroma or self.tempo or self.rhythm)


# The fused ranking's defaults (the service's settings start from them): the best of 676 settings by
# scripts/rank_sweep.py on MUSDB train songs and the sibling selection set only (MODEL_CARD.md has the
# sweep); valid and the sibling evaluation set were measured once afterwards. Chroma and rhythm got weight 0:
# the key profile and the tempo carry what they add.
DEFAULT_WEIGHTS = CompatWeights(model=1.0, key=2.0, chroma=0.0, tempo=1.0, rhythm=0.0)
DEFAULT_TEMPO_TOLERANCE = 0.01
# Within one instrument, the model's cosine less this times the stem's cosine with the instrument's mean query
# direction (model.centring.fit_query_centres): hub stems near that direction otherwise top unrelated
# queries. Chosen on MUSDB train and the sibling selection set (scripts/rank_sweep.py --hub). Not used across
# instruments, where the same direction is what tells the instrument apart.
DEFAULT_HUB_DISCOUNT = 0.75


@dataclass(frozen=True)
class Conform:
    """How far a stem may be conformed to the query: up to `max_transpose` semitones either way and a tempo
    change of up to `max_stretch` (0.08 = +-8 %). `pitched` False (drums) never transposes. A tempo mismatch
    left after the stretch costs one sigma of agreement per `tempo_tolerance`."""

    max_transpose: int = 0
    max_stretch: float = 0.0
    pitched: bool = True
    tempo_tolerance: float = DEFAULT_TEMPO_TOLERANCE  # a mismatch beyond the stretch of this fraction: one sigma
    # What conforming costs: key similarity per semitone of transposition, tempo agreement per unit of
    # |log stretch| (0.78 for a 4 % stretch). Chosen on the sibling selection set: the mAP of stems found with
    # the right suggestion (scripts/rank_sweep.py --conform), conforming up to 5 semitones and 8 %; with
    # lower costs conformed stems crowd out those that fit as they are.
    transpose_cost: float = 0.2
    stretch_cost: float = 20.0


@dataclass(frozen=True)
class Similarities:
    """Per query and candidate [Q, R]: each part's similarity after conforming, and the conforming itself:
    transpose (semitones to shift the stem, int) and stretch (tempo ratio to apply to the stem, 1 = none)."""

    parts: Mapping[str, np.ndarray]
    transpose: np.ndarray
    stretch: np.ndarray


def _key_and_chroma(q: np.ndarray, r: np.ndarray, shifts: np.ndarray,
                    cost: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Key and chroma cosines [Q, R] at the best transposition in `shifts`, and that transposition."""
    qk, rk = _unit(q[:, FEATURES.key_slice]), _unit(r[:, FEATURES.key_slice])
    qc, rc = q[:, FEATURES.chroma_slice], r[:, FEATURES.chroma_slice]
    best = np.full((len(q), len(r)), -np.inf)
    key = np.zeros((len(q), len(r)))
    chroma = np.zeros((len(q), len(r)))
    transpose = np.zeros((len(q), len(r)), dtype=np.int64)
    for t in shifts:  # shifting the stem up by t rotates its profiles by t
        k = qk @ rotate_profile(rk, int(t)).T
        c = qc @ np.roll(rc, int(t), axis=1).T
        total = k + c - cost * abs(int(t))
        better = total > best
        best = np.where(better, total, best)
        key = np.where(better, k - cost * abs(int(t)), key)
        chroma = np.where(better, c, chroma)
        transpose = np.where(better, int(t), transpose)
    return key, chroma, transpose


def _unit(x: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return np.where(norm > 1e-9, x / np.maximum(norm, 1e-9), 0.0)


def _tempo(q: np.ndarray, r: np.ndarray, max_stretch: float, tolerance: float,
           cost: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tempo agreement [Q, R], rhythm (tempogram) correlation [Q, R] and the stretch ratio to apply."""
    col = FEATURES.column("bpm")
    qb, rb = q[:, col][:, None], r[:, col][None, :]
    ratio, _factor = tempo_ratio(qb, rb)
    known = (qb > 0) & (rb > 0)
    needed = np.abs(np.log(ratio))
    allowed = np.log1p(max_stretch)
    applied = np.minimum(needed, allowed)
    stretch = np.where(known, np.exp(np.sign(np.log(ratio)) * applied), 1.0)
    mismatch = needed - applied
    sigma = np.log1p(tolerance)
    tempo = np.where(known, np.exp(-0.5 * (mismatch / sigma) ** 2) - cost * applied, 0.0)
    # Stretching the stem by s moves its folded tempogram by log2(s) octaves.
    shift = np.round(np.log2(stretch) * FOLD_BINS).astype(np.int64) % FOLD_BINS
    qg, rg = q[:, FEATURES.tempogram_slice], r[:, FEATURES.tempogram_slice]
    rhythm = np.zeros((len(q), len(r)))
    for s in np.unique(shift):
        at = shift == s
        rhythm = np.where(at, qg @ np.roll(rg, int(s), axis=1).T, rhythm)
    return tempo, rhythm, stretch


def similarities(queries: np.ndarray, candidates: np.ndarray, conform: Conform = Conform()) -> Similarities:
    """Musical similarities of query feature rows [Q, F] and candidate rows [R, F] (layout FEATURES)."""
    q = np.atleast_2d(np.asarray(queries, dtype=np.float64))
    r = np.atleast_2d(np.asarray(candidates, dtype=np.float64))
    limit = max(0, int(conform.max_transpose)) if conform.pitched else 0
    shifts = np.array(sorted(range(-limit, limit + 1), key=abs))  # ties go to the smaller transposition
    key, chroma, transpose = _key_and_chroma(q, r, shifts, conform.transpose_cost)
    tempo, rhythm, stretch = _tempo(q, r, max(0.0, conform.max_stretch), conform.tempo_tolerance, conform.stretch_cost)
    return Similarities({"key": key, "chroma": chroma, "tempo": tempo, "rhythm": rhythm}, transpose, stretch)


def discount_hubs(model: np.ndarray, hub: np.ndarray | None, discount: float) -> np.ndarray:
    """The model's cosines [..., R] less `discount` times each stem's cosine with the mean query direction of
    the queried instrument (`hub` [..., R]; None: unchanged)."""
    model = np.asarray(model, dtype=np.float64)
    return model if hub is None or not discount else model - discount * np.asarray(hub, dtype=np.float64)


def zscore_rows(x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Each row standardised over its candidates (`mask` [Q, R] True = candidate); 0 outside and for rows
    without spread."""
    m = np.ones(x.shape, dtype=bool) if mask is None else mask
    count = np.maximum(m.sum(axis=1, keepdims=True), 1)
    mean = np.where(m, x, 0.0).sum(axis=1, keepdims=True) / count
    var = np.where(m, (x - mean) ** 2, 0.0).sum(axis=1, keepdims=True) / count
    std = np.sqrt(var)
    return np.where(m & (std > 1e-12), (x - mean) / np.where(std > 1e-12, std, 1.0), 0.0)


def fuse(model: np.ndarray, sims: Similarities, weights: CompatWeights, mask: np.ndarray | None = None,
         analysed: np.ndarray | None = None) -> np.ndarray:
    """Fused scores [Q, R]: sum over PARTS of weight x z-score over each row's candidates (`mask` [Q, R],
    default all). The musical parts are standardised over the `analysed` candidates only ([Q, R] or [R]
    bool, default all) and count 0 for the others, which are thus ranked by the model alone."""
    model = np.atleast_2d(np.asarray(model, dtype=np.float64))
    m = np.ones(model.shape, dtype=bool) if mask is None else np.broadcast_to(mask, model.shape)
    musical_mask = m if analysed is None else m & np.broadcast_to(analysed, model.shape)
    fused = weights.model * zscore_rows(model, m) if weights.model else np.zeros(model.shape)
    for name in PARTS[1:]:
        w = getattr(weights, name)
        if w:
            fused += w * zscore_rows(np.atleast_2d(sims.parts[name]), musical_mask)
    return fused


def musical_shortlist(query: np.ndarray, rows: np.ndarray, weights: CompatWeights, n: int,
                      conform: Conform = Conform()) -> np.ndarray:
    """Indices of the `n` rows [R, F] whose musical parts alone (the weights without the model's) score best
    against the query row [F]: candidates the model's nearest neighbours may miss. Empty when no musical
    weight is set."""
    musical = replace(weights, model=0.0)
    if not musical.musical or len(rows) == 0 or n <= 0:
        return np.zeros(0, dtype=np.int64)
    sims = similarities(np.asarray(query)[None, :], rows, conform)
    score = fuse(np.zeros((1, len(rows))), sims, musical)[0]
    k = min(n, len(rows))
    top = np.argpartition(-score, k - 1)[:k]
    return top[np.argsort(-score[top], kind="stable")].astype(np.int64)
