"""The sped-up analysis steps (issue 18: STFTs in cache-sized blocks, the beat-tracking programme over a strided
view, the autocorrelation at a fast FFT length, per-beat maxima by one running maximum) give the results of the
code before them (analysis_before): to the last bit, the autocorrelation to rounding."""

import numpy as np
import pytest

from analysis import beats, chroma, signature, tempo
from analysis.signature import ONSET_BANDS_HZ, onset_envelope
from tests.analysis import analysis_before as before
from tests.analysis.music import SR, song

HOP = 160  # onset frames at the model rate


def _wave(samples: int, seed: int) -> np.ndarray:
    """A generated song with noise on top, cut to `samples`."""
    rng = np.random.default_rng(seed)
    music = np.resize(song(100.0 + 10 * seed, seed % 12, seconds=12.0), samples)
    return (music + 0.02 * rng.standard_normal(samples)).astype(np.float32)


# onset frames: one block, exactly one, one more, three and a part; then a 30 s query
@pytest.mark.parametrize("frames", [1, 2, 300, 512, 513, 1024 + 1, 3 * 512 + 77, 2998])
def test_spectral_flux_equals_the_code_before(frames: int) -> None:
    wave = _wave((frames - 1) * HOP + 400 + 37, frames)
    new, old = signature.spectral_flux(wave, SR), before.spectral_flux(wave, SR)
    if frames < 2:
        assert new is None and old is None
        return
    assert new is not None and old is not None and new.per_bin.shape == (frames, 257)
    assert np.array_equal(new.per_bin, old.per_bin)
    assert np.array_equal(new.total, old.total())
    assert np.array_equal(new.bands(ONSET_BANDS_HZ), old.bands(ONSET_BANDS_HZ))


# input lengths: shorter than a window, around the 128-frame (chroma) and 64-frame (summary) blocks, 30 s
@pytest.mark.parametrize("samples", [100, 4 * 160 * 127, 4 * 160 * 128, 4 * 160 * 128 + 1, 4 * 640 * 64 + 640,
                                     12 * SR + 333, 30 * SR])
def test_chroma_sequence_and_summary_equal_the_code_before(samples: int) -> None:
    wave = _wave(samples, samples % 7)
    low = chroma.to_chroma_rate(wave, SR)
    new = chroma.chroma_frames(low, len(wave), SR)
    assert new.shape == (max(1, -(-samples // 640)), 12)
    assert np.array_equal(new, before.chroma_frames(low, len(wave), SR))
    assert np.array_equal(chroma.pitch_class_summary(low), before.pitch_class_summary(low))


@pytest.mark.parametrize("n", [1, 2, 3, 1000, 2998, 17998])
def test_autocorrelation_equals_the_code_before_to_rounding(n: int) -> None:
    env = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    np.testing.assert_allclose(tempo.autocorrelation(env), before.autocorrelation(env), rtol=0, atol=1e-12)


@pytest.mark.parametrize("bpm", [60.0, 87.3, 120.0, 143.0, 200.0])
def test_beat_tracking_equals_the_code_before(bpm: float) -> None:
    envelope = onset_envelope(song(bpm, 0, seconds=20.0), SR)
    rng = np.random.default_rng(int(bpm))
    noisy = envelope + rng.standard_normal(len(envelope)).astype(np.float32)
    quiet_start = np.concatenate([np.zeros(500, np.float32), envelope])  # a chain starts at the first onset
    for env in (envelope, noisy, quiet_start, rng.standard_normal(37)):
        for steer in (bpm, 0.93 * bpm):
            new, old = beats.track_beats(env, 0.01, steer), before.track_beats(env, 0.01, steer)
            assert np.array_equal(new, old)
    assert len(beats.track_beats(envelope, 0.01, bpm)) > 10


@pytest.mark.parametrize("n", [0, 1, 3, 50, 1000])
def test_maxima_at_beats_equal_the_code_before(n: int) -> None:
    rng = np.random.default_rng(n)
    values = rng.standard_normal(n).astype(np.float32)
    times = rng.uniform(-0.2, n * 0.01 + 0.2, 40)  # beats before, inside and past the values
    for half_width in (0.0, 0.02, 0.05, 0.3):
        assert np.array_equal(beats._at_beats(values, times, 0.01, half_width),
                              before._at_beats(values, times, 0.01, half_width))
