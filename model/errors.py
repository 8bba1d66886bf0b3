"""Domain errors of the model package (only the service maps them to HTTP), and `redact_paths`, which keeps
server paths out of any message that leaves the process (an HTTP answer, a job's row)."""

import re
from collections.abc import Iterable
from pathlib import Path

# An absolute path of two or more components; its last component is kept.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.~])/(?:[^/\s'\"`,;:()\[\]{}<>]+/)+[^/\s'\"`,;:()\[\]{}<>]*")


def redact_paths(text: str, roots: Iterable[str | Path] = ()) -> str:
    """`text` without absolute paths: a path under one of `roots` is shown relative to it (the root itself as
    '.'), any other by its last component."""
    for root in sorted((str(r).rstrip("/") for r in roots if str(r).strip("/")), key=len, reverse=True):
        text = text.replace(root + "/", "").replace(root, ".")
    return _ABSOLUTE_PATH.sub(lambda m: m.group(0).rstrip("/").rsplit("/", 1)[-1], text)


class StemJepaError(Exception):
    """Base class of every error the project raises on purpose."""


class AudioDecodeError(StemJepaError):
    """A file could not be decoded into audio (corrupt, empty, not audio, no audio stream)."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot decode audio from {self.path}: {reason}")


class AudioLimitError(AudioDecodeError):
    """Audio over a decoding limit (sample rate, channels, duration or decoded samples), found from the header
    or while decoding: refused before it can take the memory it would need."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(path, reason)


class UnknownInstrumentError(StemJepaError, ValueError):
    """An instrument name that the model's vocabulary does not contain."""

    def __init__(self, name: str, known: tuple[str, ...]) -> None:
        self.name = name
        self.known = known
        super().__init__(f"unknown instrument {name!r}; known instruments: {', '.join(known)}")


class ConfigError(StemJepaError, ValueError):
    """A configuration file or override that does not fit the config schema."""


class CheckpointError(StemJepaError):
    """A checkpoint that is missing, unreadable or not a Stem-JEPA checkpoint."""


class ReservedDataError(StemJepaError, ValueError):
    """Songs of the fixed evaluation set were given to training or to a checkpoint choice, which must not see them."""
