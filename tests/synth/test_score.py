"""Tests of parts in seconds and their MIDI files."""

from pathlib import Path

import mido

from synth.score import Control, Note, Part, write_midi


def _part() -> Part:
    notes = [Note(0.0, 0.5, 60, 100), Note(1.0, 0.5, 64, 90), Note(2.5, 1.0, 67, 80)]
    return Part(
        program=5, is_drum=False, notes=notes, controls=[Control(0.5, "cc", 7, 100), Control(2.6, "bend", 0, 500)]
    )


def test_window_keeps_notes_starting_inside_and_carries_controller_state() -> None:
    window = _part().window(0.8, 2.0)
    assert [(round(n.start, 9), n.pitch) for n in window.notes] == [(0.2, 64), (1.7, 67)]
    assert Control(0.0, "cc", 7, 100) in window.controls
    assert any(c.kind == "bend" and abs(c.time - 1.8) < 1e-9 for c in window.controls)


def test_transpose_moves_pitches_but_not_drums() -> None:
    assert [n.pitch for n in _part().transposed(3).notes] == [63, 67, 70]
    drums = Part(0, True, [Note(0, 0.1, 36, 100)])
    assert drums.transposed(5).notes[0].pitch == 36


def test_stretch_scales_times() -> None:
    assert _part().stretched(2.0).end() == 7.0


def test_written_midi_times_round_trip_in_seconds(tmp_path: Path) -> None:
    path = tmp_path / "p.mid"
    write_midi([_part(), Part(0, True, [Note(0.25, 0.1, 38, 100)])], path, 40, 10, drums_as_melodic=False)
    midi = mido.MidiFile(path)
    now, onsets = 0.0, []
    for msg in midi:
        now += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            onsets.append((round(now, 3), msg.channel, msg.note))
    assert onsets == [(0.0, 0, 60), (0.25, 9, 38), (1.0, 0, 64), (2.5, 0, 67)]
    assert abs(midi.length - 3.5) < 0.01


def test_drum_kit_fonts_get_drums_on_a_melodic_channel(tmp_path: Path) -> None:
    path = tmp_path / "d.mid"
    write_midi([Part(0, True, [Note(0.0, 0.1, 36, 100)])], path, 0, 0, drums_as_melodic=True)
    channels = {m.channel for m in mido.MidiFile(path) if m.type == "note_on"}
    assert channels == {0}
