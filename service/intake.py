"""Upload intake: checks type, size and duration of a query file, decodes it and cuts the requested section.

Every rejection is a ServiceError with the status the API promises: 415 for a type that is not audio,
413 for a file, duration, sample rate, channel count or decoded size over the limits (from the header before
decoding, or found while decoding), 400 for undecodable audio, too little audio or silence, 422 for a section
outside the audio.
"""

import io
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.audio import AUDIO_SUFFIXES, DecodeLimits, load_mono, rms_dbfs
from model.errors import AudioLimitError
from service.errors import ServiceError, bad_audio, invalid, too_large, unsupported_type

log = logging.getLogger(__name__)

# Content types browsers and curl send for audio with no usable file name suffix.
_CONTENT_TYPES = {
    "audio/wav": ".wav", "audio/x-wav": ".wav", "audio/wave": ".wav", "audio/vnd.wave": ".wav",
    "audio/flac": ".flac", "audio/x-flac": ".flac", "audio/ogg": ".ogg", "audio/mpeg": ".mp3",
    "audio/mp3": ".mp3", "audio/mp4": ".m4a", "audio/x-m4a": ".m4a", "audio/aac": ".aac",
    "video/mp4": ".mp4", "audio/webm": ".webm", "audio/opus": ".opus",
}


@dataclass(frozen=True)
class QueryAudio:
    """A decoded, validated query. wave: [T] float32 mono at `sample_rate` Hz, already cut to the section."""

    wave: np.ndarray
    sample_rate: int
    filename: str
    duration_seconds: float  # of the whole upload
    start_seconds: float  # where `wave` starts in the upload


def audio_suffix(filename: str | None, content_type: str | None) -> str:
    """The decoder suffix for an upload: from its name, else its content type; 415 when neither is audio."""
    suffix = Path(filename or "").suffix.lower()
    if suffix in AUDIO_SUFFIXES:
        return suffix
    mapped = _CONTENT_TYPES.get((content_type or "").split(";")[0].strip().lower())
    if not suffix and mapped:
        return mapped
    raise unsupported_type(
        f"unsupported file type {suffix or content_type or 'unknown'!r}",
        {"supported": sorted(AUDIO_SUFFIXES)},
    )


@dataclass(frozen=True)
class Upload:
    """An uploaded file as the request carried it."""

    data: bytes
    filename: str | None = None
    content_type: str | None = None


@dataclass(frozen=True)
class IntakeLimits:
    """What an upload must satisfy: at most max_bytes and what `decode` allows (max_seconds among it), at
    least min_seconds of audio (after the cut) louder than silence_dbfs (RMS); decoded at sample_rate Hz."""

    sample_rate: int
    max_bytes: int
    decode: DecodeLimits
    min_seconds: float
    silence_dbfs: float


def read_query(upload: Upload, limits: IntakeLimits, start: float | None = None,
               duration: float | None = None) -> QueryAudio:
    """Validates and decodes an upload to mono audio at limits.sample_rate, cut to [start, start + duration]."""
    data, sr = upload.data, limits.sample_rate
    suffix = audio_suffix(upload.filename, upload.content_type)
    if len(data) == 0:
        raise bad_audio("the uploaded file is empty")
    if len(data) > limits.max_bytes:
        raise too_large(f"the upload has {len(data)} bytes; the limit is {limits.max_bytes}")
    stream = io.BytesIO(data)
    stream.name = f"upload{suffix}"
    try:
        wave = load_mono(stream, sr, limits=limits.decode)
    except AudioLimitError as exc:
        raise too_large(exc.reason) from exc
    total = len(wave) / sr
    begin = 0.0 if start is None else start
    if begin < 0 or (duration is not None and duration <= 0):
        raise invalid("start must be >= 0 and duration > 0")
    if begin >= total:
        raise invalid(f"start {begin:g} s lies beyond the end of the audio ({total:.2f} s)")
    end = total if duration is None else min(total, begin + duration)
    wave = wave[round(begin * sr) : round(end * sr)]
    if len(wave) < limits.min_seconds * sr:
        raise bad_audio(f"too little audio: {len(wave) / sr:.2f} s; at least {limits.min_seconds:g} s needed")
    level = rms_dbfs(wave)
    if level < limits.silence_dbfs:
        shown = "digital silence" if level == float("-inf") else f"RMS {level:.1f} dBFS"
        message = f"the audio is silent ({shown}; the threshold is {limits.silence_dbfs:g} dBFS)"
        raise ServiceError(400, "silent_audio", message)
    return QueryAudio(wave, sr, upload.filename or stream.name, total, begin)
