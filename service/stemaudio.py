"""Audio files of catalogue stems for the browser: the stem's own file, or a decoded FLAC of one stream.

Paths come only from the catalogue's records, looked up by stem id; nothing in a request names a file. A
file is served only if it resolves (symlinks followed, at the moment it is served) inside the root its song
was indexed from and inside STEMJEPA_CATALOGUE_DIR when that is set: the indexer refuses files outside the
root, and this holds for rows indexed before it did and for a link changed since. A stem that is one stream
of a multi-stream container (a `.stem.mp4`) is decoded once to FLAC under the cache folder, named by the
source's path, stream, size and modification time, and served from there. Every failure is a 404 that names
only the stem; the log has the path and the reason.
"""

import hashlib
import logging
import mimetypes
import threading
from pathlib import Path
from typing import Any

import soundfile as sf

from model.audio import read_audio
from model.errors import AudioDecodeError
from model.files import atomic_write_path
from service.errors import ServiceError, not_found

log = logging.getLogger(__name__)

_MEDIA_TYPES = {".wav": "audio/wav", ".flac": "audio/flac", ".ogg": "audio/ogg", ".mp3": "audio/mpeg",
                ".m4a": "audio/mp4", ".mp4": "audio/mp4", ".aac": "audio/aac", ".opus": "audio/ogg",
                ".webm": "audio/webm", ".aif": "audio/aiff", ".aiff": "audio/aiff"}


def media_type(path: Path) -> str:
    return _MEDIA_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


class StemAudio:
    """Resolves a stem record to a servable file (decoding multi-stream stems into the cache)."""

    def __init__(self, cache_dir: Path, catalogue_dir: Path | None = None) -> None:
        self.cache_dir = cache_dir
        self.catalogue_dir = catalogue_dir
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def _roots(self, record: Any) -> list[Path]:
        roots = [self.catalogue_dir] if self.catalogue_dir is not None else []
        if getattr(record, "source", None):
            indexed_from = Path(record.source)
            roots.append(indexed_from.parent if indexed_from.is_file() else indexed_from)  # a manifest's folder
        return [r.resolve() for r in roots]

    def _unavailable(self, record: Any, why: str) -> ServiceError:
        log.warning("stem %s: audio not served: %s (%s)", record.id, why, record.path)
        return not_found(f"the audio of stem {record.id} is not available")

    def file_for(self, record: Any) -> tuple[Path, str]:
        """(path, media type) of a playable file for `record`; 404 when its source file is gone, lies outside
        the catalogue, or (one stream of a container) does not decode."""
        source = Path(record.path)
        try:
            resolved = source.resolve()
        except (OSError, RuntimeError) as exc:
            raise self._unavailable(record, f"unresolvable path ({exc})") from exc
        if not all(resolved.is_relative_to(root) for root in self._roots(record)):
            raise self._unavailable(record, "the file resolves outside the catalogue")
        if not resolved.is_file():
            raise self._unavailable(record, "the source file is missing")
        if record.stream is None:
            return resolved, media_type(source)
        st = resolved.stat()
        digest = hashlib.sha1(f"{resolved}|{record.stream}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()
        target = self.cache_dir / f"stem-{int(record.id)}-{digest[:16]}.flac"
        with self._lock(target.name):
            if not target.is_file():
                try:
                    self._decode(resolved, int(record.stream), target)
                except AudioDecodeError as exc:
                    raise self._unavailable(record, f"stream {record.stream} does not decode: {exc.reason}") from exc
        return target, "audio/flac"

    def _decode(self, source: Path, stream: int, target: Path) -> None:
        audio = read_audio(source, stream)
        atomic_write_path(target, lambda tmp: sf.write(tmp, audio.samples.T, audio.sample_rate, format="FLAC",
                                                       subtype="PCM_16"))
        log.info("decoded %s stream %d to %s", source.name, stream, target.name)
