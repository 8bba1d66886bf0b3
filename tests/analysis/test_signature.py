"""Spectral flux and the onset envelopes built from it."""

import numpy as np

from analysis.signature import ONSET_BANDS_HZ, spectral_flux


def _reference_flux(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    """The flux as first written: Hann-windowed frames, FFT, log1p(100 |X|), positive first difference."""
    hop, win = round(0.01 * sample_rate), round(0.025 * sample_rate)
    frames = np.lib.stride_tricks.sliding_window_view(wave.astype(np.float64), win)[::hop]
    mag = np.abs(np.fft.rfft(frames * np.hanning(win), n=512, axis=1))
    logmag = np.log1p(100.0 * mag)
    return np.maximum(np.diff(logmag, axis=0, prepend=logmag[:1]), 0.0)


def test_flux_and_band_sums_match_a_plain_float64_reference() -> None:
    rng = np.random.default_rng(3)
    sr = 16_000
    t = np.arange(3 * sr) / sr
    wave = (0.3 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 2 * t) > 0)
            + 0.05 * rng.standard_normal(len(t))).astype(np.float32)
    flux = spectral_flux(wave, sr)
    assert flux is not None and flux.per_bin.dtype == np.float32
    ref = _reference_flux(wave, sr)
    np.testing.assert_allclose(flux.per_bin, ref, rtol=1e-4, atol=1e-4)
    bands = flux.bands(ONSET_BANDS_HZ)
    for row, (lo, hi) in zip(bands, ONSET_BANDS_HZ, strict=True):
        expected = ref[:, (flux.freqs >= lo) & (flux.freqs < hi)].sum(axis=1)
        np.testing.assert_allclose(row, expected, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(flux.total, ref.sum(axis=1), rtol=1e-4, atol=1e-3)


def test_flux_of_audio_shorter_than_two_hops_is_none() -> None:
    assert spectral_flux(np.zeros(100, np.float32), 16_000) is None
