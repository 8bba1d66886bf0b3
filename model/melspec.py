"""Log-mel front end with torch.stft and a Slaney-style mel filterbank (librosa's defaults), no torchaudio.

Also owns the dataset normalisation (a scalar mean and standard deviation of log-mel values, computed over
training audio by `stemjepa stats` and stored in the checkpoint).
"""

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from model.config import AudioConfig


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's auditory-toolbox scale: linear below 1 kHz, logarithmic above (librosa htk=False)."""
    f = np.asarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    mel = f / f_sp
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, mel)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, f_min: float, f_max: float) -> np.ndarray:
    """Triangular filters [n_mels, n_fft // 2 + 1] with Slaney area normalisation (librosa.filters.mel)."""
    fft_freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    mel_pts = _mel_to_hz(np.linspace(_hz_to_mel(np.array(f_min)), _hz_to_mel(np.array(f_max)), n_mels + 2))
    fdiff = np.diff(mel_pts)
    ramps = mel_pts[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_pts[2 : n_mels + 2] - mel_pts[:n_mels]))[:, None]
    return weights


class LogMel(nn.Module):
    """Waveforms [B, T] at cfg.sample_rate -> log-mel [B, n_mels, T // hop] (one frame per 10 ms)."""

    filterbank: torch.Tensor
    window: torch.Tensor

    def __init__(self, cfg: AudioConfig) -> None:
        super().__init__()
        self.cfg = cfg
        fb = mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.f_min, cfg.f_max)
        self.register_buffer("filterbank", torch.from_numpy(fb).float(), persistent=False)
        self.register_buffer("window", torch.hann_window(cfg.win_length, periodic=True), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        _B, T = wave.shape
        spec = torch.stft(
            wave.float(), n_fft=self.cfg.n_fft, hop_length=self.cfg.hop_length, win_length=self.cfg.win_length,
            window=self.window, center=True, pad_mode="constant", return_complex=True,
        )  # [B, F, 1 + T // hop]
        power = spec.real.square() + spec.imag.square()
        mel = torch.matmul(self.filterbank.to(power.dtype), power)  # [B, n_mels, frames]
        # centre padding adds one frame past the end; dropping it makes 8 s exactly 800 frames
        n = T // self.cfg.hop_length
        return torch.log(mel[..., : max(n, 1)] + self.cfg.log_offset)


@dataclass(frozen=True)
class NormStats:
    """Scalar statistics of log-mel values over a training set; applied as (x - mean) / std."""

    mean: float = 0.0
    std: float = 1.0

    def apply(self, logmel: torch.Tensor) -> torch.Tensor:
        return (logmel - self.mean) / self.std

    def to_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "std": self.std}


class RunningStats:
    """Streaming mean/std over many log-mel tensors (Chan et al. parallel variance; float64)."""

    def __init__(self) -> None:
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0

    def update(self, x: torch.Tensor) -> None:
        x = x.detach().double().flatten()
        n_b = x.numel()
        if n_b == 0:
            return
        mean_b = float(x.mean())
        m2_b = float(((x - mean_b) ** 2).sum())
        delta = mean_b - self.mean
        total = self.n + n_b
        self.mean += delta * n_b / total
        self.m2 += m2_b + delta**2 * self.n * n_b / total
        self.n = total

    def result(self) -> NormStats:
        if self.n < 2:
            raise ValueError("need at least two log-mel values to compute statistics")
        return NormStats(mean=self.mean, std=math.sqrt(self.m2 / (self.n - 1)))
