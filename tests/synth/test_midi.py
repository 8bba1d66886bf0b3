"""Tests of reading MIDI files into parts."""

import io

import mido
import pytest

from synth.midi import MidiReadError, read_midi


def _song() -> bytes:
    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(60), time=0))
    track.append(mido.MetaMessage("time_signature", numerator=3, denominator=4, time=0))
    track.append(mido.Message("program_change", channel=0, program=33, time=0))
    track.append(mido.Message("note_on", channel=0, note=40, velocity=90, time=0))
    track.append(mido.Message("note_on", channel=9, note=36, velocity=100, time=240))
    track.append(mido.Message("note_off", channel=0, note=40, time=240))
    track.append(mido.Message("note_on", channel=9, note=36, velocity=0, time=0))
    track.append(mido.Message("pitchwheel", channel=0, pitch=100, time=0))
    midi.tracks.append(track)
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def test_parts_come_per_channel_and_program_in_seconds() -> None:
    parts, tempi, meters = read_midi(_song())
    bass = next(p for p in parts if not p.is_drum)
    drums = next(p for p in parts if p.is_drum)
    assert bass.program == 33 and bass.notes[0].pitch == 40 and bass.notes[0].duration == pytest.approx(1.0)
    assert drums.notes[0].start == pytest.approx(0.5)
    assert bass.controls[0].kind == "bend"
    assert tempi == [(0.0, pytest.approx(60.0))] and meters == [(0.0, "3/4")]


def test_garbage_is_refused() -> None:
    with pytest.raises(MidiReadError):
        read_midi(b"not a midi file at all")
