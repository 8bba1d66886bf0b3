"""Tests of turning real arrangements into four stems."""

import numpy as np

from synth.arranger import arrange_midi, split_classes
from synth.gm import VOICE_PROGRAMS
from synth.score import Note, Part


def _band() -> list[Part]:
    drums = Part(0, True, [Note(t * 0.25, 0.1, 36 + t % 3, 100) for t in range(120)])
    bass = Part(34, False, [Note(t * 0.5, 0.4, 40 + t % 5, 90) for t in range(60)])
    lead = Part(73, False, [Note(t * 0.5, 0.45, 72 + t % 7, 80) for t in range(60)])
    chords = Part(0, False, [Note(t * 1.0, 0.9, p, 70) for t in range(30) for p in (60, 64, 67)])
    return [drums, bass, lead, chords]


def test_split_by_drum_channel_bass_program_and_lead_line() -> None:
    drums, bass, lead, chords = _band()
    classes = split_classes([chords, lead, bass, drums])
    assert classes == {"drums": [drums], "bass": [bass], "vocals": [lead], "other": [chords]}


def test_without_a_single_line_the_top_voice_sings() -> None:
    drums, bass, _, chords = _band()
    classes = split_classes([drums, bass, chords, Part(48, False, list(chords.notes))])
    assert {n.pitch for n in classes["vocals"][0].notes} == {67}


def test_arrangement_window_is_transposed_stretched_and_revoiced() -> None:
    song = None
    for seed in range(10):
        song = arrange_midi(_band(), [(0.0, 120.0)], [], np.random.default_rng(seed), 8.0)
        if song and song.music["lead_revoiced"]:
            break
    assert song is not None
    assert all(n.start < 8.0 for parts in song.parts.values() for p in parts for n in p.notes)
    assert song.parts["vocals"][0].program in VOICE_PROGRAMS
    assert 120 / 1.2 < song.music["tempo"] < 120 * 1.2
    assert song.music["chords"] is None and song.music["key_estimated"]


def test_missing_class_gives_no_arrangement() -> None:
    drums, bass, lead, _ = _band()
    assert arrange_midi([drums, bass, lead], [], [], np.random.default_rng(0), 8.0) is None
