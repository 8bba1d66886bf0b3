"""Audio decoding, downmixing, resampling and levels: the first step of every audio -> vector path.

soundfile (libsndfile) reads wav/flac/ogg/mp3; PyAV (FFmpeg) reads mp4/m4a/aac and every stream of a
multi-stream `.stem.mp4`, and is the fallback for anything libsndfile refuses. Resampling is soxr's
high-quality mode. Every failure becomes an AudioDecodeError naming the file.
"""

import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np
import soundfile as sf
import soxr

from model.errors import AudioDecodeError

log = logging.getLogger(__name__)

SOUNDFILE_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff"})
AUDIO_SUFFIXES = SOUNDFILE_SUFFIXES | frozenset({".mp4", ".m4a", ".aac", ".opus", ".webm", ".mka"})

Source = str | Path | BinaryIO


@dataclass(frozen=True)
class Audio:
    """Decoded audio. samples: [C, T] float32 in [-1, 1] (nominally); sample_rate in Hz."""

    samples: np.ndarray
    sample_rate: int

    @property
    def duration(self) -> float:
        return self.samples.shape[-1] / self.sample_rate


def _name(source: Source) -> str:
    return str(source) if isinstance(source, str | Path) else getattr(source, "name", "<upload>")


def _suffix(source: Source) -> str:
    return Path(_name(source)).suffix.lower()


def _check(audio: Audio, source: Source) -> Audio:
    if audio.samples.size == 0 or audio.samples.shape[-1] == 0:
        raise AudioDecodeError(_name(source), "no audio samples (empty or zero-length)")
    if not np.isfinite(audio.samples).all():
        raise AudioDecodeError(_name(source), "audio contains NaN or infinite samples")
    return audio


def _read_soundfile(source: Source) -> Audio:
    data, sr = sf.read(source, dtype="float32", always_2d=True)  # [T, C]
    return Audio(np.ascontiguousarray(data.T), int(sr))


def _decode_av_streams(source: Source, only: int | None) -> list[Audio]:
    """Decodes every audio stream (or the `only`-th) with FFmpeg; returns them in stream order."""
    try:
        container = av.open(str(source) if isinstance(source, Path) else source, mode="r")
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise AudioDecodeError(_name(source), f"not a readable media file ({exc})") from exc
    with container:
        streams = list(container.streams.audio)
        if not streams:
            raise AudioDecodeError(_name(source), "the file has no audio stream")
        if only is not None:
            if not 0 <= only < len(streams):
                raise AudioDecodeError(_name(source), f"audio stream {only} requested, file has {len(streams)}")
            streams = [streams[only]]
        indices = [int(s.index) for s in streams]  # read now: stream objects die with the container
        chunks: dict[int, list[np.ndarray]] = {i: [] for i in indices}
        resamplers = {s.index: av.AudioResampler(format="fltp") for s in streams}
        rates = {s.index: int(s.codec_context.sample_rate or s.rate or 0) for s in streams}
        try:
            for packet in container.demux(*streams):
                for frame in packet.decode():
                    assert isinstance(frame, av.AudioFrame)  # demuxed from audio streams only
                    for out in resamplers[packet.stream.index].resample(frame):
                        chunks[packet.stream.index].append(out.to_ndarray())
                        rates[packet.stream.index] = int(out.sample_rate)
            for idx, resampler in resamplers.items():
                for out in resampler.resample(None):
                    chunks[idx].append(out.to_ndarray())
        except (av.error.FFmpegError, ValueError) as exc:
            raise AudioDecodeError(_name(source), f"decoding failed ({exc})") from exc
    result = []
    for i in indices:
        if not chunks[i]:
            raise AudioDecodeError(_name(source), f"audio stream {i} decoded to no samples")
        result.append(Audio(np.concatenate(chunks[i], axis=1).astype(np.float32), rates[i]))
    return result


def _rewind(source: Source) -> None:
    if not isinstance(source, str | Path):
        source.seek(0)


def read_audio(source: Source, stream: int | None = None) -> Audio:
    """Decodes one audio stream (the first unless `stream` is given) at its native rate.

    Raises:
        AudioDecodeError: missing, empty, corrupt or non-audio input, or non-finite samples.
    """
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.is_file():
            raise AudioDecodeError(path, "file not found")
        if path.stat().st_size == 0:
            raise AudioDecodeError(path, "empty file")
    elif isinstance(source, io.BytesIO) and source.getbuffer().nbytes == 0:
        raise AudioDecodeError(_name(source), "empty file")
    if stream is None and _suffix(source) in SOUNDFILE_SUFFIXES:
        try:
            return _check(_read_soundfile(source), source)
        except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
            log.debug("soundfile refused %s (%s); trying FFmpeg", _name(source), exc)
            _rewind(source)
    return _check(_decode_av_streams(source, stream)[0], source)


def read_streams(source: Source) -> list[Audio]:
    """Decodes every audio stream of a container, e.g. the five of a MUSDB `.stem.mp4`
    (mix, drums, bass, other, vocals)."""
    if isinstance(source, str | Path) and not Path(source).is_file():
        raise AudioDecodeError(source, "file not found")
    return [_check(a, source) for a in _decode_av_streams(source, None)]


def to_mono(samples: np.ndarray) -> np.ndarray:
    """[C, T] or [T] -> [T] by averaging channels."""
    return samples if samples.ndim == 1 else samples.mean(axis=0)


def resample(wave: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Resamples a [T] or [C, T] float signal with soxr (high quality)."""
    if sr_in == sr_out:
        return wave.astype(np.float32, copy=False)
    if wave.ndim == 1:
        return soxr.resample(wave, sr_in, sr_out, quality="HQ").astype(np.float32)
    return np.ascontiguousarray(soxr.resample(wave.T, sr_in, sr_out, quality="HQ").T.astype(np.float32))


def load_mono(source: Source, sample_rate: int = 16_000, stream: int | None = None) -> np.ndarray:
    """Decodes, downmixes and resamples to a mono float32 signal [T] at `sample_rate` Hz."""
    audio = read_audio(source, stream)
    return resample(to_mono(audio.samples), audio.sample_rate, sample_rate)


def rms_dbfs(wave: np.ndarray) -> float:
    """Root-mean-square level in dB relative to full scale (a full-scale sine is -3 dBFS); -inf for silence."""
    if wave.size == 0:
        return float("-inf")
    rms = float(np.sqrt(np.mean(np.square(wave, dtype=np.float64))))
    return 20.0 * np.log10(rms) if rms > 0 else float("-inf")
