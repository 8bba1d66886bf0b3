"""Reading standard MIDI files into parts in seconds, one part per (channel, program)."""

import io
import logging

import mido

from synth.gm import DRUM_CHANNEL
from synth.score import Control, Note, Part

logger = logging.getLogger(__name__)


class MidiReadError(ValueError):
    """A MIDI file could not be parsed."""


def read_midi(data: bytes) -> tuple[list[Part], list[tuple[float, float]], list[tuple[float, str]]]:
    """Parse MIDI bytes.

    Returns:
        parts: one per channel and program in use, notes and controls in seconds.
        tempi: (time in seconds, beats per minute) of every tempo change.
        meters: (time in seconds, "N/D") of every time-signature change.
    """
    try:
        midi = mido.MidiFile(file=io.BytesIO(data), clip=True)
        messages = list(midi)  # merged tracks, delta times in seconds through the tempo map
    except (OSError, EOFError, ValueError, KeyError, IndexError) as error:
        raise MidiReadError(str(error)) from error
    programs = [0] * 16
    open_notes: dict[tuple[int, int], tuple[float, int, int]] = {}
    parts: dict[tuple[int, int], Part] = {}
    tempi: list[tuple[float, float]] = []
    meters: list[tuple[float, str]] = []
    now = 0.0

    def part(channel: int, program: int) -> Part:
        key = (channel, -1 if channel == DRUM_CHANNEL else program)
        if key not in parts:
            parts[key] = Part(program=max(0, key[1]), is_drum=channel == DRUM_CHANNEL)
        return parts[key]

    for msg in messages:
        now += msg.time
        if msg.type == "set_tempo":
            tempi.append((now, mido.tempo2bpm(msg.tempo)))
        elif msg.type == "time_signature":
            meters.append((now, f"{msg.numerator}/{msg.denominator}"))
        elif msg.type == "program_change":
            programs[msg.channel] = msg.program
        elif msg.type == "note_on" and msg.velocity > 0:
            open_notes[(msg.channel, msg.note)] = (now, msg.velocity, programs[msg.channel])
        elif msg.type in ("note_off", "note_on") and (msg.channel, msg.note) in open_notes:
            start, velocity, program = open_notes.pop((msg.channel, msg.note))
            part(msg.channel, program).notes.append(Note(start, max(0.01, now - start), msg.note, velocity))
        elif msg.type == "control_change" and msg.control in (1, 7, 10, 11, 64):
            # Modulation, volume, pan, expression and sustain shape the sound; bank selects and sends do not
            # carry over to another soundfont and room.
            part(msg.channel, programs[msg.channel]).controls.append(Control(now, "cc", msg.control, msg.value))
        elif msg.type == "pitchwheel":
            part(msg.channel, programs[msg.channel]).controls.append(Control(now, "bend", 0, msg.pitch))
    return [p for p in parts.values() if p.notes], tempi, meters
