"""Alignment of a catalogue stem to a query mix: frame cross-correlation, sub-frame peak, onset refinement.

Lags count frames of the query that precede the stem: at lag L, stem frame j sounds with query frame j + L,
so a positive offset means "start the stem L frames into the mix". Similarity at a lag is the mean cosine
over the overlapping frames (paper section 4.3), scored only where the overlap is long enough that edge
lags with two or three frames cannot win by noise. Stems shorter and longer than the mix both work: lags
run from -(Ts - m) to Tq - m, m the minimum overlap.
"""

from dataclasses import dataclass

import numpy as np

ONSET_HOP_SECONDS = 0.01


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
    refined: bool = False


def min_overlap_frames(n_query: int, n_stem: int, min_overlap_seconds: float, frame_seconds: float) -> int:
    """The overlap a lag needs: the configured seconds, or half the shorter sequence if that is more,
    never more than the shorter sequence itself."""
    shorter = min(n_query, n_stem)
    wanted = max(int(np.ceil(min_overlap_seconds / frame_seconds)), int(np.ceil(0.5 * shorter)))
    return max(1, min(wanted, shorter))


def frame_curve(query: np.ndarray, stem: np.ndarray, min_overlap: int) -> Curve:
    """Mean cosine similarity per lag between query frames [Tq, D] and stem frames [Ts, D] (unit rows)."""
    Tq, Ts = len(query), len(stem)
    sims = query @ stem.T  # [Tq, Ts]: query frame i against stem frame j, i - j = lag
    diag = (np.arange(Tq)[:, None] - np.arange(Ts)[None, :] + Ts - 1).ravel()
    sums = np.bincount(diag, weights=sims.ravel().astype(np.float64), minlength=Tq + Ts - 1)
    counts = np.bincount(diag, minlength=Tq + Ts - 1)
    lags = np.arange(-(Ts - 1), Tq)
    keep = counts >= min_overlap
    return Curve(lags[keep], (sums[keep] / counts[keep]).astype(np.float32))


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


def onset_envelope(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    """Spectral-flux onset strength, one value per 10 ms, zero-mean and unit-variance: [N] float32.

    Log-compressed STFT magnitudes (25 ms Hann window), positive first difference summed over bins, with a
    0.5 s moving average removed so slow level changes do not correlate.
    """
    hop = round(ONSET_HOP_SECONDS * sample_rate)
    win = round(0.025 * sample_rate)
    n_fft = 1 << (win - 1).bit_length()
    if len(wave) < win + hop:
        return np.zeros(1, dtype=np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(wave.astype(np.float32), win)[::hop]  # [N, win]
    mag = np.abs(np.fft.rfft(frames * np.hanning(win).astype(np.float32), n=n_fft, axis=1))
    logmag = np.log1p(100.0 * mag)
    flux = np.maximum(np.diff(logmag, axis=0, prepend=logmag[:1]), 0.0).sum(axis=1)
    width = max(1, round(0.5 / ONSET_HOP_SECONDS))
    flux = flux - np.convolve(flux, np.ones(width) / width, mode="same")
    std = float(flux.std())
    return ((flux - flux.mean()) / std if std > 0 else flux * 0.0).astype(np.float32)


def onset_correlation(query_env: np.ndarray, stem_env: np.ndarray, lags: np.ndarray, min_overlap: int) -> np.ndarray:
    """Correlation of two 10 ms onset envelopes at each lag in `lags` (10 ms units; at lag L stem value j
    meets query value j + L), by FFT: O(N log N) for minutes of audio.

    Normalised by the envelopes' whole energies, not the overlap's (the "biased" estimate): a lag where
    only a few beats overlap cannot score as high as one where the whole stem lines up, which the
    per-overlap normalisation lets noise do. Lags overlapping less than `min_overlap` values score 0."""
    nq, ns = len(query_env), len(stem_env)
    n_fft = 1 << (nq + ns - 1).bit_length()
    full = np.fft.irfft(np.fft.rfft(query_env, n_fft) * np.conj(np.fft.rfft(stem_env, n_fft)), n_fft)
    # circular index of lag L is L mod n_fft
    num = full[np.mod(lags, n_fft)]
    q64, s64 = query_env.astype(np.float64), stem_env.astype(np.float64)
    energy = float(np.sqrt(np.dot(q64, q64) * np.dot(s64, s64)))
    overlap = np.clip(ns + lags, 0, nq) - np.clip(lags, 0, nq)
    if energy <= 0:
        return np.zeros(len(lags))
    return np.where(overlap >= min_overlap, num / energy, 0.0)


def _standardise(x: np.ndarray) -> np.ndarray:
    std = float(x.std())
    return (x - x.mean()) / std if std > 0 else x * 0.0


def fused_offset(curve: Curve, frame_seconds: float, query_env: np.ndarray, stem_env: np.ndarray,
                 onset_weight: float) -> float | None:
    """Offset (s) at the peak of the model's similarity curve plus `onset_weight` times the onset-envelope
    correlation, both standardised over the lags the curve scores, at 10 ms resolution.

    The embedding curve says which lags fit musically (harmony, groove); the onset correlation says
    where the attacks coincide to 10 ms. A weak model's flat curve then defers to the onsets; a sharp,
    confident curve keeps a beat-period neighbour from winning. None if the envelopes carry no onsets.
    """
    if len(curve.lags) < 2 or not np.any(query_env) or not np.any(stem_env):
        return None
    start = round(float(curve.lags[0]) * frame_seconds / ONSET_HOP_SECONDS)
    stop = round(float(curve.lags[-1]) * frame_seconds / ONSET_HOP_SECONDS)
    lags = np.arange(start, stop + 1)
    min_overlap = max(50, min(len(query_env), len(stem_env)) // 2)
    onset = onset_correlation(query_env, stem_env, lags, min_overlap)
    model = np.interp(lags * ONSET_HOP_SECONDS, curve.lags * frame_seconds, curve.similarity)
    fused = _standardise(model) + onset_weight * _standardise(onset)
    position, _ = parabolic_peak(fused)
    return float(np.interp(position, np.arange(len(lags)), lags)) * ONSET_HOP_SECONDS


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
