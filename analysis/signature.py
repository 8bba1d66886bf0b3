"""Signal-level alignment features of a waveform (its `Signature`): onset envelopes per band at 10 ms, their
beat-scale accents and a chroma sequence at 40 ms, from one STFT at the model rate and one at 4 kHz."""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import scipy.fft

from analysis.chroma import ONSET_HOP_SECONDS, chroma_sequence

ONSET_WINDOW_SECONDS = 0.025
ONSET_BANDS_HZ: tuple[tuple[float, float], ...] = ((0, 200), (200, 800), (800, 3000), (3000, 8000))
# Accents: the band envelopes blurred by a Gaussian of each of these widths (s), one fusion term per width.
# Players of different instruments do not strike within 10 ms of each other, and a kick's attack peaks
# frames before a bass note's; blurred, the envelopes say where each part's notes cluster in the beat, which
# survives that jitter. On MUSDB train songs the 0.1 s accent correlation alone found 52 % of trimmed stems
# within 80 ms, the sharp band correlation 26 %. A 0.2 s blur did better still in the fused curve on those
# songs, but set the beat phase of long loop-based songs wrong (MODEL_CARD.md).
ACCENT_SCALES_SECONDS: tuple[float, ...] = (0.1,)


@dataclass(frozen=True)
class Signature:
    """Signal-level alignment features of one waveform, beside the model's frames.

    envelope: full-band onset strength [N] (10 ms); bands: onset strength per ONSET_BANDS_HZ band
    [len(bands), N] (10 ms); accents: the bands blurred at each ACCENT_SCALES_SECONDS width
    [len(scales), len(bands), N]; chroma: pitch-class profile [M, 12] every 40 ms, unit rows (zero in
    silence). Each envelope row is zero-mean, unit-variance (all zeros without onsets).
    """

    envelope: np.ndarray
    bands: np.ndarray
    accents: np.ndarray
    chroma: np.ndarray

    def onset_rows(self) -> np.ndarray:
        """Envelope and bands as one [N, 1 + len(bands)] array (the stored form; accents derive from bands)."""
        return np.concatenate([self.envelope[None], self.bands]).T

    @classmethod
    def from_stored(cls, onsets: np.ndarray, chroma: np.ndarray, stretch: float = 1.0) -> "Signature":
        """Rebuilds a signature from `onset_rows()` [N, 1 + bands] and the chroma [M, 12] (any float dtype);
        with `stretch`, `stretched(..., stretch)` of it, its accents blurred once (from the stretched bands)."""
        rows = np.asarray(onsets, dtype=np.float32).T
        envelope, bands = np.ascontiguousarray(rows[0]), np.ascontiguousarray(rows[1:])
        chroma = np.asarray(chroma, dtype=np.float32)
        if abs(stretch - 1.0) >= 1e-6:
            return _stretched(envelope, bands, chroma, stretch)
        return cls(envelope, bands, accents_of(bands), chroma)


def time_scale(rows: np.ndarray, ratio: float, axis: int = 0) -> np.ndarray:
    """A sequence sampled on a regular grid along `axis`, as it would be after playing its audio `ratio`
    times faster: linearly resampled to round(N / ratio) steps (float32)."""
    x = np.moveaxis(np.asarray(rows, dtype=np.float32), axis, 0)
    n = x.shape[0]
    m = max(1, round(n / ratio))
    if m == n or n < 2:
        return np.moveaxis(x, 0, axis)
    at = np.arange(m) * ratio
    flat = x.reshape(n, -1)
    if flat.shape[1] >= 8:  # many columns (frames, chroma): all at once
        out = _interp_columns(at, flat)
    else:  # a few long ones (envelopes): np.interp's own loop is the faster
        out = np.stack([np.interp(at, np.arange(n), col, right=col[-1]) for col in flat.T], axis=1)
    return np.moveaxis(out.reshape((m, *x.shape[1:])).astype(np.float32), 0, axis)


def _interp_columns(at: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """np.interp(at, arange(n), col, right=col[-1]) of every column of `flat` [n, C] (n >= 2) at points
    `at` >= 0 [m]: [m, C] float64, all columns in a few array operations (a call per column of a conformed
    hit's frames took a third of its read), with np.interp's own arithmetic, so the same values to the bit:
    between grid points j <= x < j + 1, (y[j + 1] - y[j]) * (x - j) + y[j]; on a grid point, y[j]; at or past
    the last, y[n - 1]."""
    n = len(flat)
    y = flat.astype(np.float64)
    j = np.minimum(np.floor(at).astype(np.intp), n - 2)
    step = at - j
    lower = y[j]
    out = y[j + 1] - lower
    out *= step[:, None]
    out += lower
    exact = (step == 0) | (at >= n - 1)
    if exact.any():
        out[exact] = y[np.where(at[exact] >= n - 1, n - 1, j[exact])]
    return out


def stretched(sig: Signature, ratio: float) -> Signature:
    """The signature of the same audio played `ratio` times faster (pitch unchanged): every sequence
    resampled in time; envelopes re-standardised, chroma rows re-normalised."""
    if abs(ratio - 1.0) < 1e-6:
        return sig
    return _stretched(sig.envelope, sig.bands, sig.chroma, ratio)


def _stretched(envelope: np.ndarray, bands: np.ndarray, chroma: np.ndarray, ratio: float) -> Signature:
    """`stretched` of the signature with these envelope, bands and chroma (its accents are not read)."""
    bands = zscore_rows(time_scale(bands, ratio, axis=1))
    chroma = time_scale(chroma, ratio)
    norm = np.linalg.norm(chroma, axis=1, keepdims=True)
    chroma = np.where(norm > 1e-6, chroma / np.maximum(norm, 1e-6), 0.0).astype(np.float32)
    return Signature(zscore_rows(time_scale(envelope, ratio)[None])[0], bands, accents_of(bands), chroma)


def zscore_rows(x: np.ndarray) -> np.ndarray:
    """Each row zero-mean, unit-variance (rows without variance become zeros), float32."""
    mean = x.mean(axis=-1, keepdims=True)
    std = x.std(axis=-1, keepdims=True)
    return np.where(std > 0, (x - mean) / np.where(std > 0, std, 1.0), 0.0).astype(np.float32)


# Frames per block of the onset STFT: a block's frames, spectrum and log magnitudes (~1 MB each) stay in the
# cache from the window to the flux, where whole-signal arrays (37 MB for three minutes) went to memory and
# back at each step and were page-faulted in anew at every call. 512 is a multiple of any SIMD width, so the
# FFT groups the rows as it does for the whole signal and every value is the same to the last bit.
FLUX_BLOCK_FRAMES = 512


@dataclass(frozen=True)
class Flux:
    """Spectral flux per STFT bin [N, bins] at 10 ms, the bins' frequencies [bins] (Hz) and the full-band onset
    strength total [N] (float64): the flux summed over all bins."""

    per_bin: np.ndarray
    freqs: np.ndarray
    total: np.ndarray

    def bands(self, edges: Sequence[tuple[float, float]]) -> np.ndarray:
        """Onset strength of the bins in each [low, high) Hz of `edges`: [len(edges), N], by one product with
        0/1 band masks (one pass over the flux, where a masked sum per band copies the bins out each time)."""
        masks = np.stack([(self.freqs >= lo) & (self.freqs < hi) for lo, hi in edges]).astype(self.per_bin.dtype)
        return np.asarray(masks @ self.per_bin.T, dtype=np.float64)


def spectral_flux(wave: np.ndarray, sample_rate: int) -> Flux | None:
    """Spectral flux at 10 ms (25 ms Hann window, log-compressed magnitudes, positive first difference);
    None for audio shorter than two hops.

    At indexing this runs once per catalogue stem (18 000 frames x 257 bins for three minutes), so it works
    in blocks of FLUX_BLOCK_FRAMES frames, float32 and in place; only the flux itself is kept whole."""
    hop = round(ONSET_HOP_SECONDS * sample_rate)
    win = round(ONSET_WINDOW_SECONDS * sample_rate)
    n_fft = 1 << (win - 1).bit_length()
    if len(wave) < win + hop:
        return None
    frames = np.lib.stride_tricks.sliding_window_view(np.asarray(wave, dtype=np.float32), win)[::hop]  # [N, win]
    window = np.hanning(win).astype(np.float32)
    padded = np.zeros((min(len(frames), FLUX_BLOCK_FRAMES), n_fft), dtype=np.float32)  # padded once, not by the FFT
    flux = np.empty((len(frames), n_fft // 2 + 1), dtype=np.float32)
    total = np.empty(len(frames))
    flux[0] = 0.0
    last = np.empty(0, dtype=np.float32)  # the previous block's last log magnitudes
    for start in range(0, len(frames), len(padded)):
        stop = min(len(frames), start + len(padded))
        block = padded[: stop - start]
        np.multiply(frames[start:stop], window, out=block[:, :win])
        logmag = np.abs(scipy.fft.rfft(block, axis=1))
        logmag *= 100.0
        logmag += 1.0
        np.log(logmag, out=logmag)  # log(1 + 100 |X|): numpy's log is vectorised, its log1p ~6x slower here
        if start:
            np.subtract(logmag[0], last, out=flux[start])
        np.subtract(logmag[1:], logmag[:-1], out=flux[start + 1 : stop])
        np.maximum(flux[start:stop], 0.0, out=flux[start:stop])
        # Row sums of the block while it is in the cache; a row is summed alike in a block or in the whole.
        # The band sums wait for the whole flux: BLAS's product sums a row in an order that depends on where
        # the row falls in the matrix, so it would differ in the last bits block by block.
        flux[start:stop].sum(axis=1, dtype=np.float64, out=total[start:stop])
        last = logmag[-1]
    return Flux(flux, np.fft.rfftfreq(n_fft, 1.0 / sample_rate), total)


def detrend(rows: np.ndarray) -> np.ndarray:
    """Removes a 0.5 s moving average from each row, so slow level changes do not correlate."""
    width = max(1, round(0.5 / ONSET_HOP_SECONDS))
    kernel = np.ones(width) / width
    return np.stack([r - np.convolve(r, kernel, mode="same") for r in np.atleast_2d(rows)])


def gaussian_taps(sigma_steps: float) -> np.ndarray:
    """A unit-sum Gaussian cut at 3 sigma: [2 half + 1] taps, symmetric about the middle one."""
    half = max(1, round(3 * sigma_steps))
    taps = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma_steps) ** 2)
    return taps / taps.sum()


@cache
def _taps_spectrum(sigma_steps: float, n_fft: int) -> np.ndarray:
    """The real spectrum [n_fft // 2 + 1] of gaussian_taps laid out circularly about index 0 (tap k of the
    half at index k mod n_fft): even, so its transform is real (the imaginary parts are rounding)."""
    taps = gaussian_taps(sigma_steps)
    half = len(taps) // 2
    kernel = np.zeros(n_fft)
    kernel[: half + 1] = taps[half:]
    kernel[n_fft - half :] = taps[:half]
    spectrum = scipy.fft.rfft(kernel).real
    spectrum.flags.writeable = False
    return spectrum


def gaussian_blur(rows: np.ndarray, sigma_steps: float) -> np.ndarray:
    """Each row convolved with a unit-sum Gaussian (cut at 3 sigma), same length, zeros beyond the ends:
    float64 [R, N].

    By FFT: a row padded with at least `half` zeros convolves circularly as linearly (what wraps round lands
    in the padding), so this is the direct convolution to rounding (1e-16), at a fifth of its CPU for
    3-minute envelopes (61 taps at 0.1 s; a hit's stem is blurred on every read)."""
    x = np.asarray(np.atleast_2d(rows), dtype=np.float64)  # float64 as the direct convolution was
    n = x.shape[-1]
    half = max(1, round(3 * sigma_steps))
    n_fft = int(scipy.fft.next_fast_len(n + half, real=True))
    spectrum = scipy.fft.rfft(x, n_fft, axis=-1)
    spectrum *= _taps_spectrum(float(sigma_steps), n_fft)
    return np.asarray(scipy.fft.irfft(spectrum, n_fft, axis=-1, overwrite_x=True)[..., :n])


def accents_of(bands: np.ndarray) -> np.ndarray:
    """The band envelopes [bands, N] blurred at each ACCENT_SCALES_SECONDS width: [scales, bands, N]."""
    return np.stack([zscore_rows(gaussian_blur(bands, width / ONSET_HOP_SECONDS)) for width in ACCENT_SCALES_SECONDS])


def onset_envelope(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    """Spectral-flux onset strength summed over all bins, one value per 10 ms, zero-mean and unit-variance:
    [N] float32 (a single zero for audio too short to have one)."""
    flux = spectral_flux(wave, sample_rate)
    if flux is None:
        return np.zeros(1, dtype=np.float32)
    return zscore_rows(detrend(flux.total))[0]


def empty_signature() -> Signature:
    """The signature of audio too short to have onsets: single zero values."""
    return Signature(np.zeros(1, np.float32), np.zeros((len(ONSET_BANDS_HZ), 1), np.float32),
                     np.zeros((len(ACCENT_SCALES_SECONDS), len(ONSET_BANDS_HZ), 1), np.float32),
                     np.zeros((1, 12), np.float32))


def signature_from(flux: Flux | None, chroma: np.ndarray) -> Signature:
    """A signature from an already computed flux and chroma sequence (see `signature`)."""
    if flux is None:
        return empty_signature()
    bands = zscore_rows(detrend(flux.bands(ONSET_BANDS_HZ)))
    return Signature(zscore_rows(detrend(flux.total))[0], bands, accents_of(bands), chroma)


def signature(wave: np.ndarray, sample_rate: int) -> Signature:
    """Onset envelopes (full band and per band), accents and chroma of a mono waveform [T] at `sample_rate`."""
    flux = spectral_flux(wave, sample_rate)
    return signature_from(flux, chroma_sequence(wave, sample_rate) if flux is not None else np.zeros((1, 12)))
