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
