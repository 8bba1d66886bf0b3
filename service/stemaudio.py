"""Audio files of catalogue stems for the browser: the stem's own file, or a decoded FLAC of one stream.

Paths come only from the catalogue's records, looked up by stem id; nothing in a request names a file.
A stem that is one stream of a multi-stream container (a `.stem.mp4`) is decoded once to FLAC under the
cache folder, named by the source's path, stream, size and modification time, and served from there.
"""

import hashlib
import logging
import mimetypes
import threading
from pathlib import Path
from typing import Any

import soundfile as sf

from model.audio import read_audio
from model.files import atomic_write_path
from service.errors import not_found

log = logging.getLogger(__name__)

_MEDIA_TYPES = {".wav": "audio/wav", ".flac": "audio/flac", ".ogg": "audio/ogg", ".mp3": "audio/mpeg",
                ".m4a": "audio/mp4", ".mp4": "audio/mp4", ".aac": "audio/aac", ".opus": "audio/ogg",
                ".webm": "audio/webm", ".aif": "audio/aiff", ".aiff": "audio/aiff"}


def media_type(path: Path) -> str:
    return _MEDIA_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


class StemAudio:
    """Resolves a stem record to a servable file (decoding multi-stream stems into the cache)."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def file_for(self, record: Any) -> tuple[Path, str]:
        """(path, media type) of a playable file for `record`; 404 when its source file is gone."""
        source = Path(record.path)
        if not source.is_file():
            log.warning("stem %s: source file %s is missing", record.id, source)
            raise not_found(f"the audio of stem {record.id} is not available")
        if record.stream is None:
            return source, media_type(source)
        st = source.stat()
        digest = hashlib.sha1(f"{source.resolve()}|{record.stream}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()
        target = self.cache_dir / f"stem-{int(record.id)}-{digest[:16]}.flac"
        with self._lock(target.name):
            if not target.is_file():
                self._decode(source, int(record.stream), target)
        return target, "audio/flac"

    def _decode(self, source: Path, stream: int, target: Path) -> None:
        audio = read_audio(source, stream)
        atomic_write_path(target, lambda tmp: sf.write(tmp, audio.samples.T, audio.sample_rate, format="FLAC",
                                                       subtype="PCM_16"))
        log.info("decoded %s stream %d to %s", source.name, stream, target.name)
