"""Tempo from an onset envelope: the beat period whose multiples the envelope's autocorrelation favours, its
confidence, and an octave-folded tempogram for comparing the metrical feel of two signals.

All functions take an onset-strength envelope sampled every `hop` seconds (analysis.signature gives one
every 10 ms). Octave errors are the common failure of every tempo estimator on single stems (a bass line in
half time, hi-hats in double time); comparisons of two tempi therefore allow a factor of 2 or 3 (see
`tempo_ratio`), and the folded tempogram is octave-invariant by construction.
"""

from dataclasses import dataclass

import numpy as np
import scipy.fft

MIN_BPM = 60.0
MAX_BPM = 200.0
SPAN_SECONDS = 20.0  # multiples of the period up to this lag count towards its strength
FOLD_BINS = 36  # folded tempogram resolution: 1/36 octave = 1.9 % of tempo per bin
FOLD_OCTAVES = (30.0, 480.0)  # BPM range folded onto one octave
# Log-normal prior over tempo, as in Ellis (2007) and librosa: centred on 120 BPM with one octave of spread.
# Among the periods whose multiples recur, it prefers the one a listener taps.
PRIOR_BPM = 120.0
PRIOR_OCTAVES = 1.0


@dataclass(frozen=True)
class TempoEstimate:
    """bpm: beats per minute (0 when none was found); confidence: 0-1, the normalised autocorrelation
    strength of the chosen period; folded: [FOLD_BINS] octave-folded tempogram, zero-mean unit-norm."""

    bpm: float
    confidence: float
    folded: np.ndarray

    @property
    def beat_seconds(self) -> float:
        return 60.0 / self.bpm if self.bpm > 0 else 0.0


def autocorrelation(envelope: np.ndarray) -> np.ndarray:
    """Biased autocorrelation [N] of a zero-meaned envelope [N], divided by its value at lag 0 (zeros if flat)."""
    env = np.asarray(envelope, dtype=np.float64)
    env = env - env.mean()
    n = len(env)
    # Zero-padded to at least 2n - 1, so the circular correlation is the linear one, and to a length of small
    # prime factors: 2n itself is often 4 x a prime (35 996 for three minutes), which an FFT does ~20x slower.
    size = scipy.fft.next_fast_len(max(1, 2 * n - 1), real=True)
    spectrum = scipy.fft.rfft(env, size)
    ac = scipy.fft.irfft(spectrum * np.conj(spectrum), size)[:n]
    return ac / ac[0] if n and ac[0] > 0 else np.zeros(n)


def periodicity(ac: np.ndarray, periods: np.ndarray, span: float) -> np.ndarray:
    """Strength of each period (in envelope steps) [P]: the mean autocorrelation at its multiples up to
    `span` steps (at least two). A steady beat repeats at every multiple; a period between beats does not,
    and neither does a figure that recurs only once or twice. Periods with fewer than two multiples score 0."""
    periods = np.asarray(periods, dtype=np.float64)
    span = min(span, len(ac) - 1)
    counts = np.floor(span / periods + 1e-9).astype(int)  # multiples within the span, per period
    top = int(counts.max(initial=0))
    if top < 2:
        return np.zeros(len(periods))
    multiples = periods[:, None] * np.arange(1, top + 1)[None, :]  # [P, top]
    inside = np.arange(1, top + 1)[None, :] <= counts[:, None]
    values = np.interp(np.where(inside, multiples, 0.0), np.arange(len(ac)), ac)
    mean = (values * inside).sum(axis=1) / np.maximum(counts, 1)
    return np.where(counts >= 2, mean, 0.0)


def _prior(bpm: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * (np.log2(bpm / PRIOR_BPM) / PRIOR_OCTAVES) ** 2)


def folded_tempogram(ac: np.ndarray, hop: float, bins: int = FOLD_BINS) -> np.ndarray:
    """The autocorrelation read at tempi from FOLD_OCTAVES[0] to [1] BPM on a log grid and summed onto one
    octave (cyclic, bin 0 = a power of two times 60 BPM): [bins], zero-mean and unit-norm (zeros if flat)."""
    octaves = round(np.log2(FOLD_OCTAVES[1] / FOLD_OCTAVES[0]))
    grid = FOLD_OCTAVES[0] * 2.0 ** (np.arange(octaves * bins) / bins)
    lags = 60.0 / grid / hop
    values = np.interp(lags, np.arange(len(ac)), ac, right=0.0)
    start = round(np.log2(FOLD_OCTAVES[0] / 60.0) * bins) % bins
    folded = np.roll(values.reshape(octaves, bins).sum(axis=0), start)
    folded = folded - folded.mean()
    norm = float(np.linalg.norm(folded))
    return (folded / norm if norm > 1e-12 else np.zeros(bins)).astype(np.float32)


def estimate_tempo(envelope: np.ndarray, hop: float, min_bpm: float = MIN_BPM,
                   max_bpm: float = MAX_BPM) -> TempoEstimate:
    """Tempo of an onset envelope [N] sampled every `hop` s: the period in [60/max_bpm, 60/min_bpm] s with the
    strongest periodicity times the tempo prior, refined to a fraction of a step by a parabola."""
    ac = autocorrelation(envelope)
    folded = folded_tempogram(ac, hop)
    if len(ac) < 4 or not np.any(ac):
        return TempoEstimate(0.0, 0.0, folded)
    bpm = np.arange(min_bpm, max_bpm + 0.25, 0.25)
    periods = 60.0 / bpm / hop
    strength = periodicity(ac, periods, SPAN_SECONDS / hop)
    score = np.maximum(strength, 0.0) * _prior(bpm)
    i = int(np.argmax(score))
    if score[i] <= 0:
        return TempoEstimate(0.0, 0.0, folded)
    best = bpm[i]
    if 0 < i < len(bpm) - 1:
        a, b, c = score[i - 1], score[i], score[i + 1]
        denom = a - 2 * b + c
        if denom < 0:
            best = bpm[i] + 0.5 * (a - c) / denom * (bpm[1] - bpm[0])
    return TempoEstimate(float(best), float(np.clip(strength[i], 0.0, 1.0)), folded)


def beat_period(envelope: np.ndarray, hop: float, lo: float = 0.3, hi: float = 1.0, span: float = 20.0) -> float:
    """Beat period (s) of an onset envelope [N] sampled every `hop` s: the period in [lo, hi) s (1 ms steps)
    whose multiples up to `span` s (and half the envelope) have the highest mean autocorrelation, with no
    tempo prior. Where the half bar repeats more strongly than the beat it may return that multiple (0.706 s
    for the trackswitch demo, whose bar is 1.412 s)."""
    ac = autocorrelation(envelope)
    periods = np.arange(lo, hi, 0.001)
    strength = periodicity(ac, periods / hop, min(span / hop, len(ac) / 2) - 1e-6)
    return float(periods[int(np.argmax(strength))]) if np.any(strength) else float(lo)


def beat_seconds(wave: np.ndarray, sample_rate: int, lo: float = 0.3, hi: float = 1.0, span: float = 20.0) -> float:
    """`beat_period` of a mono waveform's onset envelope (analysis.signature)."""
    from analysis.signature import ONSET_HOP_SECONDS, onset_envelope

    return beat_period(onset_envelope(wave, sample_rate), ONSET_HOP_SECONDS, lo, hi, span)


def tempo_ratio(query_bpm: float | np.ndarray, stem_bpm: float | np.ndarray,
                factors: tuple[float, ...] = (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0)) -> tuple[np.ndarray, np.ndarray]:
    """The stretch that makes a stem's tempo fit a query's, allowing the stem to sit at a multiple of the
    query's tempo: (stretch ratio, metrical factor) per pair, choosing the factor with the smallest stretch.

    A stem at `stem_bpm` played `ratio` times faster sounds at stem_bpm * ratio = query_bpm * factor.
    Pairs where a tempo is unknown (0) get ratio 1 and factor 0.
    """
    q = np.atleast_1d(np.asarray(query_bpm, dtype=np.float64))
    s = np.atleast_1d(np.asarray(stem_bpm, dtype=np.float64))
    q, s = np.broadcast_arrays(q, s)
    f = np.asarray(factors, dtype=np.float64)
    known = (q > 0) & (s > 0)
    ratios = np.where(known[..., None], q[..., None] * f / np.where(s > 0, s, 1.0)[..., None], 1.0)
    best = np.argmin(np.abs(np.log(ratios)), axis=-1)
    ratio = np.take_along_axis(ratios, best[..., None], axis=-1)[..., 0]
    return np.where(known, ratio, 1.0), np.where(known, f[best], 0.0)
