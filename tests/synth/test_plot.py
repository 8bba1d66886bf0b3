"""Tests of the log-mel picture."""

import numpy as np

from synth.plot import log_mel, mel_filterbank


def test_filterbank_covers_the_spectrum_with_triangles() -> None:
    bank = mel_filterbank(16000, n_fft=512, n_mels=40)
    assert bank.shape == (40, 257)
    assert np.all(bank.max(axis=1) > 0.5) and bank.min() >= 0


def test_a_low_tone_lights_low_mel_bands() -> None:
    t = np.arange(16000) / 16000
    spec = log_mel(np.sin(2 * np.pi * 200 * t), 16000)
    assert spec.shape[0] == 96 and np.argmax(spec.mean(axis=1)) < 20
