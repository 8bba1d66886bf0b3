"""Conformed stem audio: a catalogue stem transposed and time-stretched to fit a mix, and exports of it placed
at the mix's time zero, ready to drop into a DAW at bar 1.

Conforming runs Rubber Band's command-line tool (`rubberband`, GPL, from Debian's rubberband-cli) as a
separate process, never linked into this one. Results are cached per (stem file, transposition, stretch,
engine) under the cache folder: the page's preview uses the fast engine (R2), exports the finer one (R3),
which costs about three times the CPU. At most `workers` conformings run at once.
"""

import hashlib
import io
import logging
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import soundfile as sf

from model.audio import read_audio
from model.files import atomic_write_path
from service.errors import ServiceError
from service.stemaudio import StemAudio

log = logging.getLogger(__name__)

Engine = Literal["fast", "fine"]
ExportFormat = Literal["wav", "flac"]
_ENGINE_FLAGS = {"fast": "--fast", "fine": "--fine"}
_TIMEOUT_SECONDS = 600.0


@dataclass(frozen=True)
class Conforming:
    """How to conform a stem: `transpose` semitones (up > 0) and `stretch`, the tempo factor (faster > 1)."""

    transpose: int = 0
    stretch: float = 1.0

    @property
    def identity(self) -> bool:
        return self.transpose == 0 and abs(self.stretch - 1.0) < 1e-6

    @property
    def label(self) -> str:
        return f"t{self.transpose:+d}-x{self.stretch:.4f}"


def conforming_unavailable() -> ServiceError:
    return ServiceError(503, "conforming_unavailable",
                        "transposing and time-stretching need Rubber Band's command-line tool (`rubberband`), "
                        "which is not installed on this server")


class Conformer:
    """Conformed files of catalogue stems, made once and cached; exports aligned to a mix."""

    def __init__(self, stem_audio: StemAudio, cache_dir: Path, workers: int = 2,
                 rubberband: str | None = None) -> None:
        self.stem_audio = stem_audio
        self.cache_dir = Path(cache_dir) / "conformed"
        self.rubberband = rubberband if rubberband is not None else shutil.which("rubberband")
        self._slots = threading.BoundedSemaphore(max(1, workers))
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @property
    def available(self) -> bool:
        return bool(self.rubberband)

    def _lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def file_for(self, record: Any, conforming: Conforming, engine: Engine = "fast") -> tuple[Path, str]:
        """(path, media type) of the stem as conformed (its own playable file when nothing changes)."""
        source, media = self.stem_audio.file_for(record)
        if conforming.identity:
            return source, media
        if not self.available:
            raise conforming_unavailable()
        st = source.stat()
        digest = hashlib.sha1(f"{source.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]
        target = self.cache_dir / f"stem-{int(record.id)}-{digest}-{conforming.label}-{engine}.flac"
        with self._lock(target.name):
            if not target.is_file():
                with self._slots:
                    self._conform(source, conforming, engine, target)
        return target, "audio/flac"

    def _conform(self, source: Path, conforming: Conforming, engine: Engine, target: Path) -> None:
        audio = read_audio(source)
        with tempfile.TemporaryDirectory(prefix="conform-") as tmp:
            src, out = Path(tmp) / "in.wav", Path(tmp) / "out.wav"
            sf.write(src, audio.samples.T, audio.sample_rate, subtype="FLOAT")
            cmd = [str(self.rubberband), _ENGINE_FLAGS[engine], "--quiet", "--pitch", f"{conforming.transpose:d}",
                   "--tempo", f"{conforming.stretch:.6f}", str(src), str(out)]
            try:
                subprocess.run(cmd, check=True, capture_output=True, timeout=_TIMEOUT_SECONDS)
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
                log.error("rubberband failed on %s: %s", source.name, exc)
                raise ServiceError(500, "conforming_failed", "the stem could not be conformed") from exc
            data, rate = sf.read(out, dtype="float32", always_2d=True)
        peak = float(np.abs(data).max()) if data.size else 0.0
        if peak > 1.0:  # pitch shifting can overshoot full scale; FLAC stores integers
            data /= peak
        atomic_write_path(target, lambda path: sf.write(path, data, rate, format="FLAC", subtype="PCM_24"))
        log.info("conformed %s (%s, %s engine) in the cache", source.name, conforming.label, engine)

    def export(self, record: Any, conforming: Conforming, offset_seconds: float, duration_seconds: float | None,
               fmt: ExportFormat) -> bytes:
        """The stem conformed (fine engine) and shifted so that it starts at the mix's time zero: an offset of
        +x s (the stem starts x s into the mix) is x s of leading silence, -x s cuts its first x s; padded or
        cut to `duration_seconds` when given. WAV (24-bit) or FLAC (24-bit) bytes."""
        path, _ = self.file_for(record, conforming, "fine")
        audio = read_audio(path)
        placed = place(audio.samples, audio.sample_rate, offset_seconds, duration_seconds)
        buf = io.BytesIO()
        sf.write(buf, placed.T, audio.sample_rate, format=fmt.upper(), subtype="PCM_24")
        return buf.getvalue()


def place(samples: np.ndarray, sample_rate: int, offset_seconds: float, duration_seconds: float | None) -> np.ndarray:
    """Audio [C, T] moved to start `offset_seconds` into a timeline starting at 0 (leading silence for a positive
    offset, the start cut for a negative one), then cut or padded with silence to `duration_seconds`."""
    shift = round(offset_seconds * sample_rate)
    channels = samples.shape[0]
    if shift >= 0:
        out = np.concatenate([np.zeros((channels, shift), samples.dtype), samples], axis=1)
    else:
        out = samples[:, min(-shift, samples.shape[1]):]
    if duration_seconds is not None:
        length = round(duration_seconds * sample_rate)
        out = out[:, :length]
        if out.shape[1] < length:
            out = np.concatenate([out, np.zeros((channels, length - out.shape[1]), samples.dtype)], axis=1)
    return out
