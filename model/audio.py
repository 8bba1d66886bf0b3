"""Audio decoding, downmixing, resampling and levels: the first step of every audio -> vector path.

soundfile (libsndfile) reads wav/flac/ogg/aiff; PyAV (FFmpeg) reads mp3/mp4/m4a/aac and every stream of a
multi-stream `.stem.mp4`, and is the fallback for anything libsndfile refuses. mp3 goes to FFmpeg because
libsndfile stops at the frame count its header gives, which can be far short of the audio (and is then cut
silently); FFmpeg decodes to the end. Resampling is soxr's high-quality mode. Every failure becomes an
AudioDecodeError naming the file.

DecodeLimits bound what one decode may take: sample rate, channels, duration and decoded samples are checked
from the header before anything is decoded, and again while FFmpeg decodes (headers lie; libsndfile never
reads past its header's count), so a small upload cannot expand into gigabytes (AudioLimitError).
"""

import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
import soundfile as sf
import soxr

from model.errors import AudioDecodeError, AudioLimitError

if TYPE_CHECKING:
    import av

log = logging.getLogger(__name__)

SOUNDFILE_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff"})
AUDIO_SUFFIXES = SOUNDFILE_SUFFIXES | frozenset({".mp3", ".mp4", ".m4a", ".aac", ".opus", ".webm", ".mka"})

Source = str | Path | BinaryIO


@dataclass(frozen=True)
class Audio:
    """Decoded audio. samples: [C, T] float32 in [-1, 1] (nominally); sample_rate in Hz."""

    samples: np.ndarray
    sample_rate: int

    @property
    def duration(self) -> float:
        return self.samples.shape[-1] / self.sample_rate


@dataclass(frozen=True)
class DecodeLimits:
    """The most one decode may produce: sample rate (Hz), channels, duration (s) and decoded samples (frames x
    channels, the float32 values held at once: 4 bytes each, and the decoder's copy doubles that)."""

    max_sample_rate: int
    max_channels: int
    max_seconds: float
    max_samples: int

    def check(self, source: "Source", sample_rate: int, channels: int, frames: int | None = None) -> None:
        """Raises AudioLimitError when a stream of `channels` at `sample_rate` Hz, `frames` long (when known,
        from the header or decoded so far), is over a limit."""
        name = _name(source)
        if sample_rate > self.max_sample_rate:
            raise AudioLimitError(name, f"sample rate {sample_rate} Hz; the limit is {self.max_sample_rate} Hz")
        if channels > self.max_channels:
            raise AudioLimitError(name, f"{channels} channels; the limit is {self.max_channels}")
        if frames is None or sample_rate <= 0:
            return
        if frames / sample_rate > self.max_seconds:
            raise AudioLimitError(name, f"the audio lasts {frames / sample_rate:.1f} s; the limit is "
                                        f"{self.max_seconds:g} s")
        if frames * channels > self.max_samples:
            raise AudioLimitError(name, f"{frames * channels} samples ({frames / sample_rate:.1f} s x {channels} "
                                        f"channels at {sample_rate} Hz); the limit is {self.max_samples}")


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


def _read_soundfile(source: Source, limits: DecodeLimits | None) -> Audio:
    with sf.SoundFile(source) as f:
        if limits is not None:  # libsndfile reads no further than the header's frame count
            limits.check(source, int(f.samplerate), int(f.channels), int(f.frames))
        data = f.read(dtype="float32", always_2d=True)  # [T, C]
        sr = int(f.samplerate)
    return Audio(data.T, sr)  # a view: no second copy of what may be the largest array of a request


def _header_frames(stream: "av.audio.stream.AudioStream", sample_rate: int) -> int | None:
    if stream.duration is None or stream.time_base is None:
        return None
    return int(float(stream.duration * stream.time_base) * sample_rate)


def _decode_av_streams(source: Source, only: int | None, limits: DecodeLimits | None = None) -> list[Audio]:
    """Decodes every audio stream (or the `only`-th) with FFmpeg; returns them in stream order. With
    `limits`, each stream's header is checked first, and every decoded frame as it comes (all streams'
    samples count together)."""
    # Imported here, not at the top: FFmpeg is needed only for compressed containers, so code that reads
    # libsndfile formats alone (training from Ogg/FLAC on a machine with a bare image) runs without PyAV.
    import av

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
        frames, decoded = dict.fromkeys(indices, 0), 0
        if limits is not None:
            for s in streams:
                limits.check(source, rates[s.index], int(s.codec_context.channels), _header_frames(s, rates[s.index]))
        try:
            for packet in container.demux(*streams):
                for frame in packet.decode():
                    assert isinstance(frame, av.AudioFrame)  # demuxed from audio streams only
                    idx = packet.stream.index
                    if limits is not None:  # the header may have lied: count what is decoded
                        channels = len(frame.layout.channels)
                        frames[idx] += frame.samples
                        decoded += frame.samples * channels
                        limits.check(source, int(frame.sample_rate), channels, frames[idx])
                        if decoded > limits.max_samples:
                            raise AudioLimitError(_name(source), f"over {limits.max_samples} samples decoded (all "
                                                                 "streams), the limit")
                    for out in resamplers[idx].resample(frame):
                        chunks[idx].append(out.to_ndarray())
                        rates[idx] = int(out.sample_rate)
            for idx, resampler in resamplers.items():
                for out in resampler.resample(None):
                    chunks[idx].append(out.to_ndarray())
        except (av.error.FFmpegError, ValueError) as exc:
            raise AudioDecodeError(_name(source), f"decoding failed ({exc})") from exc
    result = []
    for i in indices:
        if not chunks[i]:
            raise AudioDecodeError(_name(source), f"audio stream {i} decoded to no samples")
        samples = np.concatenate(chunks[i], axis=1).astype(np.float32, copy=False)
        chunks[i].clear()  # the blocks go as soon as they are joined: one copy at a time, not two per stream
        result.append(Audio(samples, rates[i]))
    return result


def _rewind(source: Source) -> None:
    if not isinstance(source, str | Path):
        source.seek(0)


def read_audio(source: Source, stream: int | None = None, limits: DecodeLimits | None = None) -> Audio:
    """Decodes one audio stream (the first unless `stream` is given) at its native rate, within `limits`.

    Raises:
        AudioLimitError: over a limit (found from the header, or while decoding).
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
            return _check(_read_soundfile(source, limits), source)
        except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
            log.debug("soundfile refused %s (%s); trying FFmpeg", _name(source), exc)
            _rewind(source)
    return _check(_decode_av_streams(source, stream, limits)[0], source)


def read_streams(source: Source) -> list[Audio]:
    """Decodes every audio stream of a container, e.g. the five of a MUSDB `.stem.mp4`
    (mix, drums, bass, other, vocals)."""
    if isinstance(source, str | Path) and not Path(source).is_file():
        raise AudioDecodeError(source, "file not found")
    return [_check(a, source) for a in _decode_av_streams(source, None)]


def to_mono(samples: np.ndarray) -> np.ndarray:
    """[C, T] or [T] -> [T] by averaging channels (one channel: a view, no copy).

    The channels are added one at a time: decoders hand over [T, C] interleaved samples as a [C, T] view,
    over which numpy's mean(axis=0) walks with a stride per element, ~4x slower (170 ms for a 3-minute
    44.1 kHz stereo stem). The sum runs in the same order, so the result is the same to the last bit."""
    if samples.ndim == 1:
        return samples
    if samples.shape[0] == 1:
        return samples[0]
    out = np.array(samples[0], dtype=np.result_type(samples.dtype, np.float32))
    for channel in samples[1:]:
        out += channel
    out /= samples.shape[0]
    return out


def resample(wave: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Resamples a [T] or [C, T] float signal with soxr (high quality)."""
    if sr_in == sr_out:
        return wave.astype(np.float32, copy=False)
    if wave.ndim == 1:
        return soxr.resample(wave, sr_in, sr_out, quality="HQ").astype(np.float32, copy=False)
    return np.ascontiguousarray(soxr.resample(wave.T, sr_in, sr_out, quality="HQ").T.astype(np.float32))


def load_mono(source: Source, sample_rate: int = 16_000, stream: int | None = None,
              limits: DecodeLimits | None = None) -> np.ndarray:
    """Decodes (within `limits`), downmixes and resamples to a mono float32 signal [T] at `sample_rate` Hz."""
    audio = read_audio(source, stream, limits)
    return resample(to_mono(audio.samples), audio.sample_rate, sample_rate)


SQUARES_BLOCK = 1 << 16  # samples whose float64 squares (512 KB) are summed at once, in the cache


def _sum_of_squares(wave: np.ndarray) -> float:
    """The float64 sum of a [T] signal's squares, to the last bit numpy's np.square(wave, dtype=float64).sum().

    numpy sums an array pairwise: it halves it (the first half a multiple of 8 long) until the parts are 128
    long. The halving is done here the same way until the parts are SQUARES_BLOCK long, and numpy sums the
    squares of each part, so no 8-bytes-a-sample array of the whole signal (23 MB for three minutes at 16 kHz,
    page-faulted in anew at every call) is written and read back. tests/model/test_audio.py holds it to numpy."""
    n = len(wave)
    if n <= SQUARES_BLOCK:
        return float(np.add.reduce(np.square(wave, dtype=np.float64)))
    half = n // 2 - (n // 2) % 8
    return _sum_of_squares(wave[:half]) + _sum_of_squares(wave[half:])


def rms_dbfs(wave: np.ndarray) -> float:
    """Root-mean-square level in dB relative to full scale (a full-scale sine is -3 dBFS); -inf for silence."""
    if wave.size == 0:
        return float("-inf")
    rms = float(np.sqrt(_sum_of_squares(np.asarray(wave).reshape(-1)) / wave.size))
    return 20.0 * np.log10(rms) if rms > 0 else float("-inf")
