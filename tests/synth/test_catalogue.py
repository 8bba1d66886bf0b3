"""Tests of the Debian MIDI catalogue and WAD music lumps."""

import struct
from pathlib import Path

import pytest

from synth.catalogue import midi_catalogue, wad_music


def test_wad_music_lumps_are_found(tmp_path: Path) -> None:
    midi = b"MThd" + b"\0" * 10
    lumps = [(b"D_E1M1", midi), (b"DEMO1", b"xxxx"), (b"D_MUS", b"MUS\x1a")]
    body, table, offset = b"", b"", 12
    for name, data in lumps:
        table += struct.pack("<ii8s", offset + len(body), len(data), name)
        body += data
    path = tmp_path / "test.wad"
    path.write_bytes(struct.pack("<4sii", b"IWAD", len(lumps), 12 + len(body)) + body + table)
    (entry,) = wad_music(path)
    assert entry.name == "test.wad/D_E1M1" and entry.read() == midi


def test_installed_catalogue_is_sorted_and_readable() -> None:
    entries = midi_catalogue()
    if not entries:
        pytest.skip("no MIDI packages installed (freedoom, openttd-openmsx, planetblupi-music-midi)")
    assert list(entries) == sorted(entries, key=lambda e: (e.corpus, e.name))
    assert entries[0].read()[:4] == b"MThd"
