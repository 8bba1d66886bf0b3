"""Domain errors of the model package; only the service maps them to HTTP."""

from pathlib import Path


class StemJepaError(Exception):
    """Base class of every error the project raises on purpose."""


class AudioDecodeError(StemJepaError):
    """A file could not be decoded into audio (corrupt, empty, not audio, no audio stream)."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot decode audio from {self.path}: {reason}")


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
