"""Notes and controller events of instrument parts in seconds, and their writing to a MIDI file."""

from dataclasses import dataclass, field, replace
from pathlib import Path

import mido

from synth.gm import DRUM_CHANNEL

# Written at a fixed 120 bpm with 480 ticks per beat, so one tick is 1/960 s and times need no tempo map.
_TICKS_PER_BEAT = 480
_TICKS_PER_SECOND = 960
PITCH_BEND_MAX = 8191


@dataclass(frozen=True)
class Note:
    """A note: start and duration in seconds, MIDI pitch 0-127, velocity 1-127."""

    start: float
    duration: float
    pitch: int
    velocity: int


@dataclass(frozen=True)
class Control:
    """A controller change (kind "cc", number, value 0-127) or pitch bend (kind "bend", value -8192..8191)."""

    time: float
    kind: str
    number: int
    value: int


@dataclass
class Part:
    """One instrument of one stem: a GM program (or a drum kit) with its notes and controls in seconds."""

    program: int
    is_drum: bool
    notes: list[Note] = field(default_factory=list)
    controls: list[Control] = field(default_factory=list)

    def end(self) -> float:
        """Time in seconds when the last note stops."""
        return max((n.start + n.duration for n in self.notes), default=0.0)

    def transposed(self, semitones: int) -> "Part":
        """A copy moved by semitones; drum notes are keys to kit pieces and stay put."""
        if self.is_drum or semitones == 0:
            return replace(self, notes=list(self.notes))
        notes = [replace(n, pitch=n.pitch + semitones) for n in self.notes if 0 <= n.pitch + semitones <= 127]
        return replace(self, notes=notes)

    def stretched(self, factor: float) -> "Part":
        """A copy with every time multiplied by factor (> 1 is slower)."""
        notes = [replace(n, start=n.start * factor, duration=n.duration * factor) for n in self.notes]
        controls = [replace(c, time=c.time * factor) for c in self.controls]
        return replace(self, notes=notes, controls=controls)

    def window(self, start: float, length: float) -> "Part":
        """The notes starting inside [start, start + length) seconds, shifted to start at 0.

        Controls before the window collapse to their last value at time 0, so the window starts in the
        controller state the full part had there.
        """
        notes = [replace(n, start=n.start - start) for n in self.notes if start <= n.start < start + length]
        state: dict[tuple[str, int], Control] = {}
        inside = []
        for c in sorted(self.controls, key=lambda c: c.time):
            if c.time < start:
                state[(c.kind, c.number)] = replace(c, time=0.0)
            elif c.time < start + length:
                inside.append(replace(c, time=c.time - start))
        return replace(self, notes=notes, controls=list(state.values()) + inside)


def _ticks(seconds: float) -> int:
    return max(0, round(seconds * _TICKS_PER_SECOND))


def write_midi(parts: list[Part], path: Path, reverb_send: int, chorus_send: int, drums_as_melodic: bool) -> None:
    """Write parts to a type-1 MIDI file, one track and one channel each.

    Args:
        parts: at most 15 melodic parts plus one drum part.
        path: the .mid file to write.
        reverb_send: CC91 value 0-127 on every channel.
        chorus_send: CC93 value 0-127 on every channel.
        drums_as_melodic: put drum parts on a melodic channel with program 0, for drum-kit soundfonts whose
            kit is an ordinary bank-0 preset rather than a bank-128 percussion preset.
    """
    midi = mido.MidiFile(type=1, ticks_per_beat=_TICKS_PER_BEAT)
    conductor = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500_000, time=0)])
    midi.tracks.append(conductor)
    melodic_channels = iter(c for c in range(16) if c != DRUM_CHANNEL)
    for part in parts:
        if part.is_drum and not drums_as_melodic:
            channel, program = DRUM_CHANNEL, 0
        else:
            channel, program = next(melodic_channels), 0 if part.is_drum else part.program
        # (tick, order, message): at equal ticks, setup before note-offs before note-ons so a repeated
        # pitch is released before it is struck again.
        events: list[tuple[int, int, mido.Message]] = [
            (0, 0, mido.Message("program_change", channel=channel, program=program)),
            (0, 0, mido.Message("control_change", channel=channel, control=91, value=reverb_send)),
            (0, 0, mido.Message("control_change", channel=channel, control=93, value=chorus_send)),
        ]
        for c in part.controls:
            if c.kind == "bend":
                value = max(-8192, min(PITCH_BEND_MAX, c.value))
                events.append((_ticks(c.time), 1, mido.Message("pitchwheel", channel=channel, pitch=value)))
            else:
                msg = mido.Message("control_change", channel=channel, control=c.number, value=c.value)
                events.append((_ticks(c.time), 1, msg))
        for n in part.notes:
            on = _ticks(n.start)
            off = max(on + 1, _ticks(n.start + n.duration))
            velocity = max(1, min(127, n.velocity))
            events.append((on, 3, mido.Message("note_on", channel=channel, note=n.pitch, velocity=velocity)))
            events.append((off, 2, mido.Message("note_off", channel=channel, note=n.pitch, velocity=0)))
        events.sort(key=lambda e: (e[0], e[1]))
        track = mido.MidiTrack()
        now = 0
        for tick, _, msg in events:
            track.append(msg.copy(time=tick - now))
            now = tick
        midi.tracks.append(track)
    midi.save(str(path))
