"""Real MIDI arrangements shipped by Debian packages: freedoom music lumps, openttd-openmsx, planetblupi."""

import functools
import logging
import struct
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

_WADS = (Path("/usr/share/games/doom/freedoom1.wad"), Path("/usr/share/games/doom/freedoom2.wad"))
_MIDI_FOLDERS = {
    "openttd-openmsx": Path("/usr/share/games/openttd/baseset/openmsx"),
    "planetblupi-music-midi": Path("/usr/share/planetblupi/music"),
}


@dataclass(frozen=True)
class MidiEntry:
    """One MIDI arrangement: the package it comes from, a name inside it, and where its bytes are."""

    corpus: str
    name: str
    path: Path
    offset: int = 0
    size: int = -1

    def read(self) -> bytes:
        with self.path.open("rb") as f:
            f.seek(self.offset)
            return f.read(self.size)


def wad_music(path: Path) -> list[MidiEntry]:
    """Music lumps (D_*) of a Doom WAD that are standard MIDI files; freedoom ships MIDI, not MUS."""
    data = path.read_bytes()
    magic, count, table = struct.unpack_from("<4sii", data, 0)
    if magic not in (b"IWAD", b"PWAD"):
        raise ValueError(f"{path} is not a WAD file")
    entries = []
    for k in range(count):
        position, size, raw = struct.unpack_from("<ii8s", data, table + 16 * k)
        name = raw.rstrip(b"\0").decode("ascii", errors="replace")
        if name.startswith("D_") and data[position : position + 4] == b"MThd":
            entries.append(MidiEntry("freedoom", f"{path.name}/{name}", path, position, size))
    return entries


@functools.cache  # the WADs are read once per process, not once per song
def midi_catalogue() -> tuple[MidiEntry, ...]:
    """All installed MIDI arrangements, sorted so that draws from the list are reproducible."""
    entries: list[MidiEntry] = []
    for wad in _WADS:
        if wad.is_file():
            entries += wad_music(wad)
    for corpus, folder in _MIDI_FOLDERS.items():
        if folder.is_dir():
            files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".mid", ".midi"))
            entries += [MidiEntry(corpus, p.name, p) for p in files]
    logger.debug("found %d MIDI arrangements", len(entries))
    return tuple(sorted(entries, key=lambda e: (e.corpus, e.name)))
