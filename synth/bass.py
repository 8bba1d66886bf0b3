"""Bass lines that follow the chords: root-fifth, eighths, octave, syncopated, walking, tumbao, reggae..."""

import numpy as np

from synth.plan import SongPlan
from synth.score import Note, Part
from synth.theory import Chord

# (beat, length in beats, interval above the root); the patterns of the simple kinds, per 4/4 bar.
_FIGURES: dict[str, tuple[tuple[float, float, int], ...]] = {
    "root_fifth": ((0, 1.5, 0), (2, 1.0, 7), (3, 0.5, 0), (3.5, 0.5, 7)),
    "eighths": tuple((b / 2, 0.45, 0) for b in range(8)),
    "octave": tuple((b / 2, 0.4, 12 * (b % 2)) for b in range(8)),
    "reggae": ((0, 0.9, 0), (1.5, 0.4, 0), (2.0, 0.5, 7), (2.5, 0.4, 12), (3.0, 0.9, 10)),
    "sustained": ((0, 3.8, 0),),
}
_WALTZ = ((0, 0.9, 0), (2, 0.9, 7))
_SYNCOPATIONS = (
    ((0, 0.4, 0), (0.75, 0.2, 12), (1.5, 0.3, 0), (2.25, 0.2, 10), (2.5, 0.4, 0), (3.5, 0.2, 7)),
    ((0, 0.6, 0), (1.0, 0.2, 0), (1.75, 0.2, 12), (2.5, 0.6, 7), (3.25, 0.2, 0), (3.75, 0.2, 10)),
    ((0, 0.3, 0), (0.5, 0.2, 0), (1.75, 0.4, 7), (2.75, 0.2, 0), (3.0, 0.4, 12)),
)


def _root(chord: Chord) -> int:
    """The chord root between E1 (28) and D#2 (39)."""
    return 28 + (chord.root - 4) % 12


def _walk(plan: SongPlan, bar: int, rng: np.random.Generator) -> list[tuple[float, float, int]]:
    """Quarter notes: root, chord or scale tones, then a chromatic approach to the next bar's root."""
    chord = plan.chords[bar]
    root = _root(chord)
    next_root = _root(plan.chords[min(bar + 1, plan.bars - 1)])
    tones = [root + (pc - chord.root) % 12 for pc in chord.pitch_classes()]
    line = [(0.0, 0.9, root - root)]
    for beat in range(1, plan.beats_per_bar - 1):
        line.append((float(beat), 0.9, int(rng.choice(tones)) - root))
    approach = next_root + int(rng.choice([-1, 1]))
    line.append((float(plan.beats_per_bar - 1), 0.9, approach - root))
    return line


def _tumbao(plan: SongPlan, bar: int) -> list[tuple[float, float, int]]:
    """The Afro-Cuban bass: the fifth on the and of two, the next chord's root anticipated on four."""
    root = _root(plan.chords[bar])
    next_root = _root(plan.chords[min(bar + 1, plan.bars - 1)])
    return [(1.5, 1.4, 7), (3.0, 1.0, next_root - root)]


def bass_part(plan: SongPlan, rng: np.random.Generator, kind: str, program: int) -> Part:
    """The bass part of a whole song in the given kind, with velocity and timing humanisation."""
    notes: list[Note] = []
    syncopation = _SYNCOPATIONS[int(rng.integers(len(_SYNCOPATIONS)))]
    for bar in range(plan.bars):
        energy = plan.section_at(bar).energy
        root = _root(plan.chords[bar])
        if kind == "walking":
            figure = _walk(plan, bar, rng)
        elif kind == "tumbao":
            figure = _tumbao(plan, bar)
        elif kind == "syncopated":
            figure = list(syncopation)
        elif plan.beats_per_bar == 3 and kind in ("root_fifth", "reggae"):
            figure = list(_WALTZ)
        else:
            figure = list(_FIGURES[kind])
        for beat, length, interval in figure:
            if beat >= plan.beats_per_bar:
                continue
            length = min(length, plan.beats_per_bar - beat)
            start = max(0.0, plan.time(bar, beat) + rng.normal(0.0, 0.004))
            velocity = int(np.clip(rng.normal(70 + 35 * energy, 8), 30, 127))
            notes.append(Note(start, length * plan.beat_seconds, root + interval, velocity))
    return Part(program=program, is_drum=False, notes=notes)
