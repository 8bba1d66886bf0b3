import librosa
import numpy as np
import torch

from model.config import AudioConfig
from model.melspec import LogMel, RunningStats, mel_filterbank


def test_filterbank_matches_librosa():
    ours = mel_filterbank(16_000, 400, 80, 0.0, 8_000.0)
    ref = librosa.filters.mel(sr=16_000, n_fft=400, n_mels=80, fmin=0.0, fmax=8_000.0)
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-9)


def test_logmel_matches_librosa_within_1e4_relative():
    rng = np.random.default_rng(0)
    t = np.arange(16_000 * 3) / 16_000
    x = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(len(t))).astype(np.float32)
    cfg = AudioConfig()
    ours = LogMel(cfg)(torch.from_numpy(x)[None])[0].double().numpy()
    mel = librosa.feature.melspectrogram(
        y=x.astype(np.float64), sr=16_000, n_fft=400, hop_length=160, win_length=400, n_mels=80, fmin=0.0,
        fmax=8_000.0, center=True, pad_mode="constant", power=2.0)
    ref = np.log(mel + cfg.log_offset)[:, : ours.shape[1]]
    assert ours.shape == (80, 300)
    assert np.max(np.abs(ours - ref) / np.abs(ref)) < 1e-4


def test_eight_seconds_is_800_frames():
    assert LogMel(AudioConfig())(torch.zeros(2, 128_000)).shape == (2, 80, 800)


def test_running_stats_equal_batch_stats():
    rng = np.random.default_rng(1)
    parts = [torch.from_numpy(rng.standard_normal(n) * 3 + 1) for n in (100, 57, 1000)]
    rs = RunningStats()
    for p in parts:
        rs.update(p)
    allv = torch.cat(parts)
    assert abs(rs.result().mean - float(allv.mean())) < 1e-9
    assert abs(rs.result().std - float(allv.std())) < 1e-9
