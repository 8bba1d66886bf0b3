"""Alignment of a catalogue stem to a query mix: frame cross-correlation, sub-frame peak, onset, accent and
chroma correlation of their signatures, fused.

Lags count frames of the query that precede the stem: at lag L, stem frame j sounds with query frame j + L,
so a positive offset means "start the stem L frames into the mix". Similarity at a lag is the mean cosine
over the overlapping frames (paper section 4.3), scored only where the overlap is long enough that edge
lags with two or three frames cannot win by noise. Stems shorter and longer than the mix both work: lags
run from -(Ts - m) to Tq - m, m the minimum overlap.
"""

import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar, cast

import numpy as np
import scipy.fft

from analysis.chroma import CHROMA_HOP_STEPS, ONSET_HOP_SECONDS
from analysis.signature import Signature

# Alignment lags whose stem/mix overlap is shorter than this (s) are not scored (the service's default).
MIN_OVERLAP_SECONDS = 2.0


@dataclass(frozen=True)
class Curve:
    """Similarity per lag. lags: [L] int frames; similarity: [L] mean cosine over the overlap."""

    lags: np.ndarray
    similarity: np.ndarray


@dataclass(frozen=True)
class Alignment:
    """offset_seconds: where the stem starts in the query; score: the curve's (interpolated) peak."""

    offset_seconds: float
    score: float
    curve: Curve


def min_overlap_frames(n_query: int, n_stem: int, min_overlap_seconds: float, frame_seconds: float) -> int:
    """The overlap a lag needs: the configured seconds, or half the shorter sequence if that is more,
    never more than the shorter sequence itself."""
    shorter = min(n_query, n_stem)
    wanted = max(int(np.ceil(min_overlap_seconds / frame_seconds)), int(np.ceil(0.5 * shorter)))
    return max(1, min(wanted, shorter))


def frame_curve(query: np.ndarray, stem: np.ndarray, min_overlap: int) -> Curve:
    """Mean cosine similarity per lag between query frames [Tq, D] and stem frames [Ts, D] (unit rows).

    The per-lag sums of query i . stem j over i - j = lag are the cross-correlations of the frames' columns,
    summed over D: one batched real FFT per side (float64) instead of the [Tq, Ts] matrix of products; the
    query's transform is kept across the hits of a request."""
    Tq, Ts = len(query), len(stem)
    lags = np.arange(-(Ts - 1), Tq)
    counts = np.minimum(Tq, Ts + lags) - np.maximum(0, lags)
    keep = counts >= min_overlap
    if not Tq or not Ts:
        return Curve(lags[keep], np.zeros(int(keep.sum()), np.float32))
    n_fft = _correlation_size(Tq, Ts, lags[keep])
    q_conj = per_query(query, ("frames", n_fft),
                       lambda: np.conj(scipy.fft.rfft(np.asarray(query, np.float64), n_fft, axis=0)))
    s_spec = scipy.fft.rfft(_padded(stem, n_fft, axis=0), axis=0, overwrite_x=True)
    full = scipy.fft.irfft(_conj_products(q_conj, s_spec), n_fft)  # lag L at L mod n_fft
    sums = _at_lags(full, lags[keep], n_fft)
    return Curve(lags[keep], (sums / counts[keep]).astype(np.float32))


def parabolic_peak(values: np.ndarray) -> tuple[float, float]:
    """Index of the maximum of `values` [N] refined by a parabola through it and its neighbours, and the
    parabola's height there."""
    i = int(np.argmax(values))
    if i == 0 or i == len(values) - 1:
        return float(i), float(values[i])
    a, b, c = float(values[i - 1]), float(values[i]), float(values[i + 1])
    denom = a - 2 * b + c
    if denom >= 0:  # flat or not a maximum: no refinement
        return float(i), b
    shift = 0.5 * (a - c) / denom
    return i + shift, b - 0.25 * (a - c) * shift


def align_frames(query: np.ndarray, stem: np.ndarray, frame_seconds: float, min_overlap_seconds: float) -> Alignment:
    """Best lag of `stem` [Ts, D] against `query` [Tq, D], sub-frame refined, in seconds."""
    m = min_overlap_frames(len(query), len(stem), min_overlap_seconds, frame_seconds)
    curve = frame_curve(query, stem, m)
    position, score = parabolic_peak(curve.similarity)
    lag = float(curve.lags[0]) + position  # lags are consecutive integers
    return Alignment(lag * frame_seconds, score, curve)


# Each fused term is weighted by its own best standardised peak to this power: a cue whose curve has one
# decisive peak counts more than one whose curve is a row of near-equal beats. Without it the accents, fine
# for band recordings, set the beat phase of tightly quantised electronic music off (off-beat hi-hats against
# on-beat bass); with it the sharp onsets, decisive there, keep it (MODEL_CARD.md).
CONFIDENCE_EXPONENT = 3.0
UNPITCHED_INSTRUMENTS: tuple[str, ...] = ("drums",)


@dataclass(frozen=True)
class FusionWeights:
    """Weights of the alignment terms fused with the model's similarity curve (whose weight is 1): sharp band
    onsets (attacks to 10 ms), chroma (harmony), accents (where the notes cluster, beat-scale)."""

    onset: float = 0.0
    harmony: float = 0.0
    accent: float = 0.0

    def any(self) -> bool:
        return bool(self.onset or self.harmony or self.accent)

    def for_instrument(self, instrument: str, unpitched: Collection[str] = UNPITCHED_INSTRUMENTS) -> "FusionWeights":
        """These weights for a stem of `instrument`: no chroma term for unpitched ones (drums carry no pitch
        classes; on MUSDB train songs the term cost drums 4 points)."""
        return replace(self, harmony=0.0) if instrument in unpitched else self


# Fusion weights relative to the model curve's 1, chosen on MUSDB train songs by scripts/alignment_sweep.py
# while keeping the beat phase of long audio (scripts/alignment_long.py); see MODEL_CARD.md.
DEFAULT_FUSION = FusionWeights(onset=4.0, harmony=5.6, accent=4.0)


# Spectra and window energies of the query's signature rows (and placement's beat means of its chroma), kept
# across the hits of one request: the query's arrays live as long as the request, and a key names their memory
# (address, shape, strides, dtype), which the entry holds on to, so no other array can take that key while the
# entry lives.
_QUERY_CACHE: "OrderedDict[tuple[object, ...], tuple[tuple[np.ndarray, ...], Any]]" = OrderedDict()
_QUERY_CACHE_SIZE = 32
_QUERY_CACHE_LOCK = threading.Lock()
T = TypeVar("T")


def per_query(x: np.ndarray | tuple[np.ndarray, ...], tag: tuple[object, ...], compute: Callable[[], T]) -> T:
    """compute(), remembered for the array(s) `x` (unchanged while they live) and `tag`: what a request
    computes from its query once for all its hits."""
    arrays = x if isinstance(x, tuple) else (x,)
    key = (*((a.__array_interface__["data"][0], a.shape, a.strides, a.dtype.str) for a in arrays), *tag)
    with _QUERY_CACHE_LOCK:
        hit = _QUERY_CACHE.get(key)
        if hit is not None:
            _QUERY_CACHE.move_to_end(key)
            return cast(T, hit[1])
    value = compute()
    with _QUERY_CACHE_LOCK:
        _QUERY_CACHE[key] = (arrays, value)
        while len(_QUERY_CACHE) > _QUERY_CACHE_SIZE:
            _QUERY_CACHE.popitem(last=False)
    return value



def _conj_products(q_conj: np.ndarray, s_spec: np.ndarray) -> np.ndarray:
    """sum over c of q[f, c] conj(s[f, c]) [F], from the query's conjugated spectra (kept per request): the
    conjugate of sum conj(q) s, with no conjugated copy of the stem's spectra. The same bits as the sum of
    q conj(s): the real parts of the products are the same expression, the imaginary parts the same negated,
    and rounding is symmetric in sign."""
    return np.conj(np.einsum("fc,fc->f", q_conj, s_spec))


def _fft_size(n: int) -> int:
    """The fastest real-FFT length >= n (a product of small primes, not the next power of two)."""
    return int(scipy.fft.next_fast_len(n, real=True))


def _correlation_size(n_query: int, n_stem: int, lags: np.ndarray) -> int:
    """The fastest FFT length whose circular correlation of the two sequences equals the linear one at every
    lag in `lags` (consecutive): a lag L also receives lag L + N (zero when N >= n_query - lags[0]) and L - N
    (zero when N >= lags[-1] + n_stem). Shorter than the full n_query + n_stem - 1 when the lags leave out the
    edges that overlap too little to be scored (a 3-minute mix against 3-minute stems: a quarter shorter)."""
    full = n_query + n_stem - 1
    if not len(lags):
        return _fft_size(full)
    needed = max(n_query - int(lags[0]), int(lags[-1]) + n_stem, n_query, n_stem)
    return _fft_size(min(full, needed))


def _window_energy(x: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """Energy of x[start : start + length] (clipped to x) for each start, by cumulative sums."""
    c = np.concatenate([[0.0], np.cumsum(x.astype(np.float64) ** 2)])
    lo = np.clip(starts, 0, len(x))
    hi = np.clip(starts + length, 0, len(x))
    return np.asarray(c[hi] - c[lo])


def _floored_window_energy(x: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """Window energy, never below the window's share of the whole energy: a loud stretch is normalised
    by its own energy (it cannot win by loudness), a quiet one by the average (it cannot win by noise)."""
    x64 = x.astype(np.float64)
    share = float(np.dot(x64, x64)) * min(length, len(x)) / max(len(x), 1)
    return np.maximum(_window_energy(x, starts, length), share)


def _floored_window_energies(rows: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """_floored_window_energy of each row of `rows` [R, N] at once: [R, len(starts)]."""
    x = rows.astype(np.float64)
    n = x.shape[-1]
    c = np.empty((len(x), n + 1))
    c[:, 0] = 0.0
    np.cumsum(np.square(x, out=x), axis=1, out=c[:, 1:])
    share = c[:, -1:] * (min(length, n) / max(n, 1))
    out = _at_clipped(c, starts + length, n)
    out -= _at_clipped(c, starts, n)
    return np.maximum(out, share, out=out)


def _at_clipped(x: np.ndarray, at: np.ndarray, n: int) -> np.ndarray:
    """x[..., clip(at, 0, n)]: for a consecutive run of indices, rising (window starts at lags) or falling (at
    -lags), slices, the end values repeated where the run leaves [0, n] (a gather copies index by index)."""
    size = len(at)
    first = int(at[0]) if size else 0
    step = 1 if size < 2 or at[-1] >= at[0] else -1
    if not size or abs(int(at[-1]) - first) != size - 1 or (size > 1 and not bool(np.all(np.diff(at) == step))):
        return np.take(x, np.clip(at, 0, n), axis=-1)
    out = np.empty((*x.shape[:-1], size), x.dtype)
    if step > 0:  # at[k] = first + k: below 0 before k = -first, above n from k = n - first + 1
        below, above = min(size, max(0, -first)), min(size, max(0, n - first + 1))
        out[..., :below] = x[..., :1]
        out[..., below:above] = x[..., first + below : first + above]
        out[..., above:] = x[..., n : n + 1]
    else:  # at[k] = first - k: above n before k = first - n, below 0 from k = first + 1
        above, below = min(size, max(0, first - n)), min(size, max(0, first + 1))
        out[..., :above] = x[..., n : n + 1]
        out[..., above:below] = x[..., first - below + 1 : first - above + 1][..., ::-1]
        out[..., below:] = x[..., :1]
    return out


def _padded(x: np.ndarray, n: int, axis: int) -> np.ndarray:
    """x as float64, zero-padded to length n along `axis` (0 or -1), in one allocation."""
    shape = list(x.shape)
    shape[axis] = n
    out = np.zeros(shape)
    if axis == 0:
        out[: len(x)] = x
    else:
        out[..., : x.shape[-1]] = x
    return out


def _at(x: np.ndarray, at: np.ndarray) -> np.ndarray:
    """x[..., at] for indices `at` [L]: a slice when they are consecutive, rising (as lags are) or falling (as
    the stem's window starts -lags are), else a gather along the last axis."""
    if len(at) and abs(int(at[-1]) - int(at[0])) == len(at) - 1:
        step = 1 if at[-1] >= at[0] else -1
        if len(at) < 2 or bool(np.all(np.diff(at) == step)):
            lo, hi = min(int(at[0]), int(at[-1])), max(int(at[0]), int(at[-1]))
            return x[..., lo : hi + 1][..., ::step].copy()
    return np.take(x, at, axis=-1)


def _at_lags(full: np.ndarray, lags: np.ndarray, n_fft: int) -> np.ndarray:
    """The circular correlation `full` [..., n_fft] at `lags` [L] (lag L sits at L mod n_fft): two slices for
    consecutive lags that cross zero, else a gather."""
    if len(lags) and lags[0] < 0 <= lags[-1] and lags[-1] - lags[0] == len(lags) - 1 and lags[-1] < n_fft + lags[0]:
        return np.concatenate([full[..., n_fft + int(lags[0]) :], full[..., : int(lags[-1]) + 1]], axis=-1)
    return _at(full, np.mod(lags, n_fft))


def onset_correlation(query_env: np.ndarray, stem_env: np.ndarray, lags: np.ndarray, min_overlap: int,
                      shorter_energy: float | None = None) -> np.ndarray:
    """Correlation of two 10 ms onset envelopes at each lag in `lags` (10 ms units; at lag L stem value j
    meets query value j + L), by FFT: O(N log N) for minutes of audio.

    The shorter envelope is normalised by its whole energy (the "biased" estimate): a lag where only a few
    of its beats overlap cannot score as high as one where all of it lines up. The longer one is
    normalised by the energy of the stretch the shorter one covers at that lag, floored at that stretch's
    share of the whole, so a short stem against a long mix is drawn neither to the mix's loudest passage
    nor to its quietest. Lags overlapping less than `min_overlap` values score 0. `shorter_energy` replaces
    the shorter envelope's energy (for a sum of envelopes each already normalised)."""
    nq, ns = len(query_env), len(stem_env)
    n_fft = _fft_size(nq + ns - 1)
    full = scipy.fft.irfft(scipy.fft.rfft(query_env, n_fft) * np.conj(scipy.fft.rfft(stem_env, n_fft)), n_fft)
    # circular index of lag L is L mod n_fft
    num = full[np.mod(lags, n_fft)]
    if ns <= nq:  # the stem is the shorter: the query is windowed where the stem lies
        whole = float(np.dot(stem_env.astype(np.float64), stem_env)) if shorter_energy is None else shorter_energy
        energy = _floored_window_energy(query_env, lags, ns) * whole
    else:  # the query is the shorter: the stem is windowed where the query lies
        whole = float(np.dot(query_env.astype(np.float64), query_env)) if shorter_energy is None else shorter_energy
        energy = _floored_window_energy(stem_env, -lags, nq) * whole
    overlap = np.clip(ns + lags, 0, nq) - np.clip(lags, 0, nq)
    ok = (overlap >= min_overlap) & (energy > 0)
    return np.where(ok, num / np.sqrt(np.where(ok, energy, 1.0)), 0.0)


def _pairwise_correlation(query_rows: np.ndarray, stem_rows: np.ndarray, lags: np.ndarray,
                          min_overlap: int) -> np.ndarray:
    """Sum of onset_correlation over every (query row, stem row) pair, in one correlation per row of the
    longer side: the shorter side's rows are each normalised by their whole energy, so by linearity their
    pairs' sum is the correlation with the sum of the normalised rows (4 FFT correlations, not 16), all rows in
    one batched transform; the query's transforms and window energies are kept across a request's hits."""
    nq, ns = query_rows.shape[-1], stem_rows.shape[-1]
    stem_is_shorter = ns <= nq
    shorter, longer = (stem_rows, query_rows) if stem_is_shorter else (query_rows, stem_rows)
    energies = np.einsum("ij,ij->i", shorter.astype(np.float64), shorter.astype(np.float64))
    live = energies > 0
    if not live.any():
        return np.zeros(len(lags))
    n_fft = _correlation_size(nq, ns, lags)

    def combined_spectrum() -> np.ndarray:
        combined = (shorter[live] / np.sqrt(energies[live])[:, None]).sum(axis=0)
        return np.asarray(scipy.fft.rfft(combined, n_fft))

    def rows_spectrum() -> np.ndarray:
        return np.asarray(scipy.fft.rfft(_padded(longer, n_fft, axis=-1), axis=-1, overwrite_x=True))

    def rows_energy() -> np.ndarray:  # floored window energy of each longer row where the shorter one lies
        starts, length = (lags, ns) if stem_is_shorter else (-lags, nq)
        return _floored_window_energies(longer, starts, length)

    if stem_is_shorter:  # the query's rows are the longer side
        short_spec = combined_spectrum()
        long_spec = per_query(query_rows, ("rows", n_fft), rows_spectrum)
        energy = per_query(query_rows, ("energy", ns, int(lags[0]), len(lags)), rows_energy)
        product = long_spec * np.conj(short_spec)[None]
    else:
        short_spec = per_query(query_rows, ("combined", n_fft), combined_spectrum)
        product = rows_spectrum()
        np.conjugate(product, out=product)
        product *= short_spec[None]
        energy = rows_energy()
    full = scipy.fft.irfft(product, n_fft, axis=-1, overwrite_x=True)  # [rows, n_fft]; lag L at L mod n_fft
    num = _at_lags(full, lags, n_fft)
    # A row's floored window energies are all > 0 (at least its share of its whole energy) or, for a silent
    # row, all 0, where its correlations are 0 too: dividing the live rows alone leaves the sum as it was
    # (adding the silent rows' zeros changes no value).
    live = energy[:, 0] > 0 if len(lags) else np.zeros(len(energy), bool)
    num = num[live] if not live.all() else num
    num /= np.sqrt(energy[live] if not live.all() else energy)
    summed = num.sum(axis=0) if len(num) else np.zeros(len(lags))
    overlap = np.clip(ns + lags, 0, nq) - np.clip(lags, 0, nq)
    summed[overlap < min_overlap] = 0.0  # as every row's term there (a sum of zeros)
    return np.asarray(summed)


def band_onset_correlation(query: Signature, stem: Signature, lags: np.ndarray, min_overlap: int) -> np.ndarray:
    """Sum over every (query band, stem band) pair of the band envelopes' correlations at `lags` [L].

    Cross-band pairs count because different instruments strike in different registers: a kick drum's
    low-band attacks line up with the bass's, a hi-hat's high band with a strummed guitar's."""
    return _pairwise_correlation(query.bands, stem.bands, lags, min_overlap)


def accent_correlations(query: Signature, stem: Signature, lags: np.ndarray, min_overlap: int) -> list[np.ndarray]:
    """The same sum over band pairs for the blurred envelopes (Signature.accents), one curve per blur width:
    a broad peak on the beat where the parts' notes cluster together, which the sharp onsets then place
    to 10 ms."""
    return [_pairwise_correlation(q, s, lags, min_overlap) for q, s in zip(query.accents, stem.accents, strict=True)]


def chroma_correlation(query: Signature, stem: Signature, lags: np.ndarray, min_overlap: int) -> np.ndarray:
    """Mean cosine of the query's and the stem's chroma over their overlap at each lag in `lags` (10 ms
    units), computed on the 40 ms chroma grid by FFT and interpolated; lags overlapping less than
    `min_overlap` 10 ms steps score the curve's minimum."""
    nq, ns = len(query.chroma), len(stem.chroma)
    coarse = np.arange(int(np.floor(lags[0] / CHROMA_HOP_STEPS)) - 1, int(np.ceil(lags[-1] / CHROMA_HOP_STEPS)) + 2)
    n_fft = _correlation_size(nq, ns, coarse)
    q_conj = per_query(query.chroma, ("chroma", n_fft),
                       lambda: np.conj(scipy.fft.rfft(query.chroma.astype(np.float64), n_fft, axis=0)))
    s_spec = scipy.fft.rfft(_padded(stem.chroma, n_fft, axis=0), axis=0, overwrite_x=True)
    full = scipy.fft.irfft(_conj_products(q_conj, s_spec), n_fft)
    overlap = np.clip(ns + coarse, 0, nq) - np.clip(coarse, 0, nq)
    mean_cos = _at_lags(full, coarse, n_fft) / np.maximum(overlap, 1)
    curve = np.interp(lags / CHROMA_HOP_STEPS, coarse, mean_cos)
    fine_overlap = np.clip(len(stem.envelope) + lags, 0, len(query.envelope)) - np.clip(lags, 0, len(query.envelope))
    ok = fine_overlap >= min_overlap
    return np.where(ok, curve, curve[ok].min() if ok.any() else 0.0)


def _standardise(x: np.ndarray) -> np.ndarray:
    std = float(x.std())
    return (x - x.mean()) / std if std > 0 else x * 0.0


def fuse_curves(weighted: Sequence[tuple[float, np.ndarray]], exponent: float = CONFIDENCE_EXPONENT) -> np.ndarray:
    """Sum of (weight, curve) pairs over the same lags, each curve standardised and multiplied by its best
    peak's height (in standard deviations) to `exponent`: its confidence (0: a plain sum)."""
    fused = np.zeros(len(weighted[0][1]))
    for weight, curve in weighted:
        if weight:
            z = _standardise(np.asarray(curve, dtype=np.float64))
            fused += weight * max(float(z.max()), 0.0) ** exponent * z
    return fused


@dataclass(frozen=True)
class FusedCurve:
    """The fused alignment curve at 10 ms: lags [L] (10 ms steps, consecutive), fused [L] (the confidence-
    weighted sum), and the terms that went into it by name ("model", "onset", "harmony", "accent"), [L] each
    (raw, before standardising)."""

    lags: np.ndarray
    fused: np.ndarray
    terms: dict[str, np.ndarray]

    def peaks(self, count: int, min_separation_seconds: float = 0.5) -> list[float]:
        """Offsets (s) of the `count` highest peaks, best first, each at least `min_separation_seconds` from
        the ones before it, refined by a parabola through the 10 ms neighbours.

        Greedy: the highest lag not within the separation of one already taken, then the next. Visiting the
        lags once in descending order (ties: the earlier lag first, as argmax takes it) takes the same lags as
        masking the curve around each and searching it again, without a pass over the curve per peak."""
        fused = self.fused.astype(np.float64)
        if not np.isfinite(fused).all():  # argmax's order for NaN is not a sort's: keep the masking search
            return self._peaks_by_masking(count, min_separation_seconds)
        separation = max(1, round(min_separation_seconds / ONSET_HOP_SECONDS))
        # Each lag taken blocks at most 2 * separation - 1 lags, so the `count` peaks lie among the highest
        # `enough` lags (all lags tied with the last of them included, so the order of ties is the sort's).
        enough = count * (2 * separation - 1)
        order = np.arange(len(fused))
        if enough < len(fused):
            threshold = np.partition(fused, len(fused) - enough)[len(fused) - enough]
            order = np.flatnonzero(fused >= threshold)
        taken: list[int] = []
        blocked = np.zeros(len(fused), dtype=bool)
        for i in order[np.argsort(-fused[order], kind="stable")].tolist():
            if len(taken) == count:
                break
            if blocked[i]:
                continue
            taken.append(i)
            blocked[max(0, i - separation + 1) : i + separation] = True
        return self._refined_all(taken)

    def _refined_all(self, taken: list[int]) -> list[float]:
        """[self._refined(i) for i in taken], the parabolas of all peaks inside the curve at once: the same
        comparisons and the same float64 arithmetic in the same order, so the same values to the bit."""
        at = np.asarray(taken, dtype=np.int64)
        inside = (at > 0) & (at < len(self.fused) - 1)
        out = np.empty(len(at))
        for k in np.flatnonzero(~inside).tolist():  # a window cut by the curve's end: as before
            out[k] = self._refined(int(at[k]))
        i = at[inside]
        window = np.stack([self.fused[i - 1], self.fused[i], self.fused[i + 1]], axis=1).astype(np.float64)
        middle = np.argmax(window, axis=1)  # the window's first maximum, as parabolic_peak's argmax
        a, b, c = window[:, 0], window[:, 1], window[:, 2]
        denom = a - 2 * b + c
        refine = (middle == 1) & (denom < 0)  # a maximum in the middle, not flat: the parabola's vertex
        position = middle.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            shift = 0.5 * (a - c) / denom
        position[refine] += shift[refine]
        # lags are consecutive 10 ms steps: window start i - 1 plus position is lag lags[0] + i - 1 + position
        out[inside] = (float(self.lags[0]) + (i - 1) + position) * ONSET_HOP_SECONDS
        return [float(v) for v in out]

    def _refined(self, i: int) -> float:
        lo, hi = max(0, i - 1), min(len(self.fused), i + 2)
        position, _ = parabolic_peak(self.fused[lo:hi])
        # lags are consecutive 10 ms steps: index lo + position is lag lags[0] + lo + position
        return (float(self.lags[0]) + lo + position) * ONSET_HOP_SECONDS

    def _peaks_by_masking(self, count: int, min_separation_seconds: float) -> list[float]:
        offsets: list[float] = []
        remaining = self.fused.astype(np.float64).copy()
        separation = max(1, round(min_separation_seconds / ONSET_HOP_SECONDS))
        left = len(remaining)  # lags not yet masked
        while len(offsets) < count and left > 0:
            i = int(np.argmax(remaining))
            offsets.append(self._refined(i))
            masked = remaining[max(0, i - separation + 1) : i + separation]
            left -= int(np.isfinite(masked).sum())
            masked[:] = -np.inf
        return offsets

    def at(self, offsets_seconds: Sequence[float] | np.ndarray) -> np.ndarray:
        """The fused value at each offset (s), linearly interpolated: [K]."""
        return np.interp(np.asarray(offsets_seconds) / ONSET_HOP_SECONDS, self.lags, self.fused)


def fused_curve(curve: Curve, frame_seconds: float, query: Signature, stem: Signature, weights: FusionWeights,
                confidence_exponent: float = CONFIDENCE_EXPONENT) -> FusedCurve | None:
    """The model's similarity curve plus, by `weights`, the band onset correlation, the chroma correlation and
    the accent correlations (one per blur width, each at `weights.accent`), each standardised over the lags
    the model curve scores and weighted by its confidence (see CONFIDENCE_EXPONENT; 0: plain sum), at 10 ms
    resolution. None if the envelopes carry no onsets.

    The embedding curve says which lags fit musically; the accents say on which beat the parts' notes
    cluster together; the onsets say where attacks coincide to 10 ms; the chroma says where the harmony
    agrees, which tells a bar apart from its neighbour when the rhythm alone repeats.
    """
    if len(curve.lags) < 2 or not np.any(query.envelope) or not np.any(stem.envelope):
        return None
    start = round(float(curve.lags[0]) * frame_seconds / ONSET_HOP_SECONDS)
    stop = round(float(curve.lags[-1]) * frame_seconds / ONSET_HOP_SECONDS)
    lags = np.arange(start, stop + 1)
    min_overlap = max(50, min(len(query.envelope), len(stem.envelope)) // 2)
    terms = {"model": np.interp(lags * ONSET_HOP_SECONDS, curve.lags * frame_seconds, curve.similarity)}
    weighted: list[tuple[float, np.ndarray]] = [(1.0, terms["model"])]
    if weights.onset:
        terms["onset"] = band_onset_correlation(query, stem, lags, min_overlap)
        weighted.append((weights.onset, terms["onset"]))
    if weights.harmony:
        terms["harmony"] = chroma_correlation(query, stem, lags, min_overlap)
        weighted.append((weights.harmony, terms["harmony"]))
    if weights.accent:
        accents = accent_correlations(query, stem, lags, min_overlap)
        terms["accent"] = np.mean(accents, axis=0)
        weighted += [(weights.accent, a) for a in accents]
    return FusedCurve(lags, fuse_curves(weighted, confidence_exponent), terms)


def fused_offsets(curve: Curve, frame_seconds: float, query: Signature, stem: Signature,
                  weights: FusionWeights, count: int = 1, min_separation_seconds: float = 0.5,
                  confidence_exponent: float = CONFIDENCE_EXPONENT) -> list[float]:
    """Offsets (s), best first, at the `count` highest peaks of `fused_curve`, each at least
    `min_separation_seconds` from the ones before it. Loop-based music often has several equally good lags a
    bar or a phrase apart; the runners-up let a user try them. Empty if the envelopes carry no onsets."""
    fused = fused_curve(curve, frame_seconds, query, stem, weights, confidence_exponent)
    return [] if fused is None else fused.peaks(count, min_separation_seconds)


def fused_offset(curve: Curve, frame_seconds: float, query: Signature, stem: Signature,
                 weights: FusionWeights, confidence_exponent: float = CONFIDENCE_EXPONENT) -> float | None:
    """The best of `fused_offsets`, or None if the envelopes carry no onsets."""
    best = fused_offsets(curve, frame_seconds, query, stem, weights, confidence_exponent=confidence_exponent)
    return best[0] if best else None


def refine_offset(query_env: np.ndarray, stem_env: np.ndarray, coarse_seconds: float, window_seconds: float,
                  prior_seconds: float) -> float | None:
    """Refines a coarse offset by correlating 10 ms onset envelopes within +-window_seconds of it.

    The normalised correlation at each lag is weighted by a Gaussian prior of width `prior_seconds` around
    the coarse offset, so a beat-period neighbour does not win over the frame-level estimate. Returns None
    when no lag in the window overlaps enough or the envelopes carry no onsets.
    """
    centre = round(coarse_seconds / ONSET_HOP_SECONDS)
    half = round(window_seconds / ONSET_HOP_SECONDS)
    min_overlap = max(50, min(len(query_env), len(stem_env)) // 2)
    lags, scores = [], []
    for lag in range(centre - half, centre + half + 1):
        q0, s0 = max(0, lag), max(0, -lag)
        n = min(len(query_env) - q0, len(stem_env) - s0)
        if n < min_overlap:
            continue
        a, b = query_env[q0 : q0 + n], stem_env[s0 : s0 + n]
        norm = float(np.sqrt(np.dot(a, a) * np.dot(b, b)))
        if norm <= 0:
            continue
        lags.append(lag)
        scores.append(float(np.dot(a, b)) / norm)
    if len(lags) < 3:
        return None
    lag_arr = np.asarray(lags, dtype=np.float64)
    prior = np.exp(-0.5 * ((lag_arr * ONSET_HOP_SECONDS - coarse_seconds) / prior_seconds) ** 2)
    weighted = np.asarray(scores) * prior
    position, _ = parabolic_peak(weighted)
    return float(np.interp(position, np.arange(len(lag_arr)), lag_arr)) * ONSET_HOP_SECONDS
