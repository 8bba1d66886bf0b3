"""Frozen copies of the analysis steps issue 18 sped up (commit 633cc59): the onset STFT's spectral flux, the
4 kHz STFTs of the chroma sequence and the pitch-class summary, the tempo autocorrelation, the beat-tracking
dynamic programme and the per-beat maxima. The oracle tests/analysis/test_analysis_speed.py holds the fast
versions to. Not imported by the product.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.fft

from analysis.beats import TIGHTNESS, _last_beat
from analysis.chroma import (
    CHROMA_HOP_STEPS,
    CHROMA_RANGE_HZ,
    CHROMA_SAMPLE_RATE,
    CHROMA_WINDOW_SECONDS,
    SUMMARY_HOP_SECONDS,
    SUMMARY_PEAK_FLOOR,
    SUMMARY_WINDOW_SECONDS,
    _summary_fold,
)
from analysis.signature import ONSET_HOP_SECONDS, ONSET_WINDOW_SECONDS


@dataclass(frozen=True)
class Flux:
    """Spectral flux per STFT bin [N, bins] at 10 ms and the bins' frequencies [bins] (Hz)."""

    per_bin: np.ndarray
    freqs: np.ndarray

    def bands(self, edges: Sequence[tuple[float, float]]) -> np.ndarray:
        """Onset strength of the bins in each [low, high) Hz of `edges`: [len(edges), N], by one product with
        0/1 band masks (one pass over the flux, where a masked sum per band copies the bins out each time)."""
        masks = np.stack([(self.freqs >= lo) & (self.freqs < hi) for lo, hi in edges]).astype(self.per_bin.dtype)
        return np.asarray(masks @ self.per_bin.T, dtype=np.float64)

    def total(self) -> np.ndarray:
        """Full-band onset strength [N]."""
        return self.per_bin.sum(axis=1, dtype=np.float64)


def spectral_flux(wave: np.ndarray, sample_rate: int) -> Flux | None:
    """Spectral flux at 10 ms (25 ms Hann window, log-compressed magnitudes, positive first difference);
    None for audio shorter than two hops.

    Everything stays float32 and in place where it can: at indexing this runs once per catalogue stem
    (18 000 frames x 257 bins for three minutes), so each extra pass over the frames is ~5 % of the analysis."""
    hop = round(ONSET_HOP_SECONDS * sample_rate)
    win = round(ONSET_WINDOW_SECONDS * sample_rate)
    n_fft = 1 << (win - 1).bit_length()
    if len(wave) < win + hop:
        return None
    frames = np.lib.stride_tricks.sliding_window_view(np.asarray(wave, dtype=np.float32), win)[::hop]  # [N, win]
    padded = np.zeros((len(frames), n_fft), dtype=np.float32)  # zero-padded here, not copied again by the FFT
    np.multiply(frames, np.hanning(win).astype(np.float32), out=padded[:, :win])
    logmag = np.abs(scipy.fft.rfft(padded, axis=1))
    logmag *= 100.0
    logmag += 1.0
    np.log(logmag, out=logmag)  # log(1 + 100 |X|): numpy's log is vectorised, its log1p ~6x slower here
    flux = np.empty_like(logmag)
    flux[0] = 0.0
    np.subtract(logmag[1:], logmag[:-1], out=flux[1:])
    np.maximum(flux, 0.0, out=flux)
    return Flux(flux, np.fft.rfftfreq(n_fft, 1.0 / sample_rate))


def _frames(low: np.ndarray, window_seconds: float, hop_seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """Centred Hann-windowed STFT magnitudes [M, bins] of a 4 kHz signal and the bins' frequencies (Hz)."""
    sr = CHROMA_SAMPLE_RATE
    n_fft = 1 << (round(window_seconds * sr) - 1).bit_length()
    hop = round(hop_seconds * sr)
    padded = np.pad(low, (n_fft // 2, n_fft // 2))
    if len(padded) < n_fft:
        padded = np.pad(padded, (0, n_fft - len(padded)))
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]
    mag = np.abs(scipy.fft.rfft(frames * np.hanning(n_fft).astype(np.float32), axis=1))
    return mag, np.fft.rfftfreq(n_fft, 1.0 / sr)


def chroma_frames(low: np.ndarray, input_samples: int, sample_rate: int) -> np.ndarray:
    """The alignment chroma sequence [M, 12] of a 4 kHz signal made from `input_samples` samples at
    `sample_rate`: one row per 40 ms of the input (256 ms window), bins between 55 Hz and 2 kHz folded onto
    their nearest pitch class (A first), log-compressed, mean-removed across classes, unit rows (zero where
    silent)."""
    mag, freqs = _frames(low, CHROMA_WINDOW_SECONDS, CHROMA_HOP_STEPS * ONSET_HOP_SECONDS)
    # one row per 40 ms of the input, whatever rounding the resampler did
    mag = mag[: max(1, -(-input_samples // round(CHROMA_HOP_STEPS * ONSET_HOP_SECONDS * sample_rate)))]
    sel = (freqs >= CHROMA_RANGE_HZ[0]) & (freqs <= CHROMA_RANGE_HZ[1])
    pitch_class = np.round(12 * np.log2(freqs[sel] / 440.0)).astype(int) % 12
    fold = np.zeros((int(sel.sum()), 12), dtype=np.float32)
    fold[np.arange(len(pitch_class)), pitch_class] = 1.0
    chroma = np.log1p(10.0 * (mag[:, sel] @ fold))
    chroma -= chroma.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(chroma, axis=1, keepdims=True)
    return np.where(norm > 1e-6, chroma / np.maximum(norm, 1e-6), 0.0).astype(np.float32)


def _spectral_peaks(mag: np.ndarray) -> np.ndarray:
    """The magnitudes [M, bins] with everything but each frame's peaks above SUMMARY_PEAK_FLOOR of its largest
    set to zero."""
    peaks = np.zeros(mag.shape, dtype=bool)
    peaks[:, 1:-1] = (mag[:, 1:-1] > mag[:, :-2]) & (mag[:, 1:-1] >= mag[:, 2:])
    peaks &= mag > SUMMARY_PEAK_FLOOR * mag.max(axis=1, keepdims=True)
    return np.where(peaks, mag, 0.0)


def pitch_class_summary(low: np.ndarray) -> np.ndarray:
    """Mean harmonic pitch-class profile [12] (C first, each frame scaled to a maximum of 1) of a 4 kHz signal;
    zeros for silence."""
    mag, freqs = _frames(low, SUMMARY_WINDOW_SECONDS, SUMMARY_HOP_SECONDS)
    chroma = _spectral_peaks(mag) @ _summary_fold(freqs)
    peak = chroma.max(axis=1, keepdims=True)
    live = peak[:, 0] > 1e-6
    if not live.any():
        return np.zeros(12, np.float32)
    return (chroma[live] / peak[live]).mean(axis=0).astype(np.float32)


def autocorrelation(envelope: np.ndarray) -> np.ndarray:
    """Biased autocorrelation [N] of a zero-meaned envelope [N], divided by its value at lag 0 (zeros if flat)."""
    env = np.asarray(envelope, dtype=np.float64)
    env = env - env.mean()
    n = len(env)
    spectrum = np.fft.rfft(env, 2 * n)
    ac = np.fft.irfft(spectrum * np.conj(spectrum))[:n]
    return ac / ac[0] if n and ac[0] > 0 else np.zeros(n)


def track_beats(envelope: np.ndarray, hop: float, bpm: float, tightness: float = TIGHTNESS) -> np.ndarray:
    """Beat times [B] (s) of an onset envelope [N] sampled every `hop` s, steered by a tempo estimate (BPM).

    Ellis's (2007) dynamic programme: every frame's score is its onset strength (smoothed over 1/32 of a
    beat) plus the best score of a predecessor between half and two beats back, less `tightness` times the
    squared log ratio of that gap to the beat period; the best-scoring final beat is then traced back.
    A predecessor lies at least half a beat back, so the frames of each half-beat block depend only on earlier
    blocks and are computed together. Follows librosa's implementation (chain start, last-beat rule).
    """
    env = np.asarray(envelope, dtype=np.float64)
    if bpm <= 0 or len(env) < 4 or not np.any(env):
        return np.zeros(0)
    period = 60.0 / bpm / hop  # frames per beat
    onset = np.maximum(env - np.median(env), 0.0)  # onset strengths are positive; the stored envelope is z-scored
    std = float(onset.std(ddof=1))
    if std <= 0:
        return np.zeros(0)
    width = max(1, round(period))
    window = np.exp(-0.5 * (np.arange(-width, width + 1) * 32.0 / period) ** 2)
    local = np.convolve(onset / std, window, mode="same")
    gaps = np.arange(max(1, round(period / 2)), max(2, round(2 * period)) + 1)
    penalty = -tightness * np.log(gaps / period) ** 2
    n = len(local)
    score = local.copy()
    back = np.full(n, -1, dtype=np.int64)
    threshold = 0.01 * float(local.max())
    started = np.maximum.accumulate(local >= threshold)  # a chain starts at the first clear onset
    block = int(gaps[0])
    for start in range(block, n, block):
        t = np.arange(start, min(n, start + block))
        prev = t[:, None] - gaps[None, :]  # [b, G]
        cand = np.where(prev >= 0, score[np.maximum(prev, 0)], 0.0) + penalty[None, :]
        best = np.argmax(cand, axis=1)
        rows = np.arange(len(t))
        score[t] = local[t] + cand[rows, best]
        back[t] = np.where(started[t] & (prev[rows, best] >= 0), prev[rows, best], -1)
    last = _last_beat(score)
    beats = []
    while last >= 0:
        beats.append(last)
        last = int(back[last])
    return np.asarray(beats[::-1], dtype=np.float64) * hop


def _at_beats(values: np.ndarray, beats: np.ndarray, step: float, half_width: float) -> np.ndarray:
    """The maximum of `values` [N] (one every `step` s) within +-half_width s of each beat: [B]."""
    idx = np.round(beats / step).astype(int)
    w = max(0, round(half_width / step))
    out = np.empty(len(beats))
    for i, k in enumerate(idx):
        lo, hi = max(0, k - w), min(len(values), k + w + 1)
        out[i] = values[lo:hi].max() if hi > lo else 0.0
    return out
