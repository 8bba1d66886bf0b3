"""A picture of one synthetic song: log-mel spectrograms of its four stems stacked in one PNG."""

import json
from pathlib import Path

import numpy as np
import soundfile as sf

from synth.song import AUDIO_SUFFIX, METADATA
from synth.stems import STEMS

_N_FFT = 2048
_HOP = 512
_N_MELS = 96


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + hz / 700.0)


def mel_filterbank(sample_rate: int, n_fft: int = _N_FFT, n_mels: int = _N_MELS) -> np.ndarray:
    """Triangular HTK-mel filters [n_mels, n_fft // 2 + 1] from 0 Hz to Nyquist."""
    freqs = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    edges_mel = np.linspace(0.0, _hz_to_mel(np.array(sample_rate / 2)), n_mels + 2)
    edges = 700.0 * (10 ** (edges_mel / 2595.0) - 1.0)
    lower, center, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs - lower) / (center - lower)
    falling = (upper - freqs) / (upper - center)
    return np.maximum(0.0, np.minimum(rising, falling))


def log_mel(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Log-mel power in dB [n_mels, frames] of mono audio [T], Hann window, 2048-point FFT, hop 512."""
    padded = np.pad(audio, (_N_FFT // 2, _N_FFT // 2))
    frames = np.lib.stride_tricks.sliding_window_view(padded, _N_FFT)[::_HOP] * np.hanning(_N_FFT)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    mel = mel_filterbank(sample_rate) @ power.T
    return 10.0 * np.log10(np.maximum(mel, 1e-10))


def plot_song(song_dir: Path, out_png: Path) -> None:
    """Save the log-mel images of a song's four stems (time in seconds, mel bands) as one PNG."""
    import matplotlib  # only people who want pictures need matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metadata = json.loads((song_dir / METADATA).read_text())
    fig, axes = plt.subplots(len(STEMS), 1, figsize=(10, 2.2 * len(STEMS)), sharex=True)
    for ax, stem in zip(axes, STEMS, strict=True):
        audio, rate = sf.read(song_dir / f"{stem}{AUDIO_SUFFIX}", dtype="float32", always_2d=True)
        spec = log_mel(audio.mean(axis=1), rate)
        seconds = len(audio) / rate
        ax.imshow(
            spec,
            origin="lower",
            aspect="auto",
            extent=(0.0, seconds, 0, spec.shape[0]),
            vmin=spec.max() - 80,
            vmax=spec.max(),
            cmap="magma",
        )
        info = metadata["stems"][stem]
        ax.set_ylabel("mel band")
        ax.set_title(f"{stem}: {info['instrument']} ({info['soundfont']})", fontsize=9, loc="left")
    axes[-1].set_xlabel("time (s)")
    fig.suptitle(
        f"{song_dir.name}: {metadata.get('style')} in {metadata['key']}, {metadata['tempo']:.0f} bpm, "
        f"{metadata['source']}",
        fontsize=10,
    )
    fig.tight_layout()
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
