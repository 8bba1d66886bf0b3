"""The lead melody of the `vocals` stem: two-bar phrases with rests, on chord and scale tones, vibrato."""

from dataclasses import replace

import numpy as np

from synth.plan import SongPlan
from synth.score import Control, Note, Part

# Rhythm cells filling one beat (lengths in beats); slow cells first.
_CELLS: tuple[tuple[float, ...], ...] = (
    (2.0,),
    (1.0,),
    (1.5, 0.5),
    (0.5, 0.5),
    (0.75, 0.25),
    (0.5, 0.25, 0.25),
)
_BEND_STEP = 0.03  # seconds between pitch-bend events of the vibrato
_BEND_PER_SEMITONE = 4096  # with the GM default bend range of +-2 semitones


def _phrase_rhythm(plan: SongPlan, rng: np.random.Generator, density: float) -> list[tuple[float, float]]:
    """(beat, length) of the notes of a two-bar phrase, in beats from the phrase start; ends in a rest."""
    total = 2 * plan.beats_per_bar
    rest = float(rng.choice([1.0, 1.5, 2.0]))
    beat = float(rng.choice([0.0, 0.0, 0.5, 1.0]))
    out = []
    while beat < total - rest:
        weights = np.array([1.0 - density, 1.5 - density, 1.0, 0.5 + density, density, density / 2])
        cell = _CELLS[int(rng.choice(len(_CELLS), p=weights / weights.sum()))]
        for length in cell:
            if beat + length > total - rest + 1e-6:
                break
            out.append((beat, length))
            beat += length
        else:
            continue
        break
    if out:  # phrases end on a held note
        last_beat, _ = out[-1]
        out[-1] = (last_beat, min(total - last_beat, rest + 1.0))
    return out


def _phrase_pitches(
    plan: SongPlan,
    rng: np.random.Generator,
    first_bar: int,
    rhythm: list[tuple[float, float]],
    low: int,
    high: int,
    start: int,
) -> list[int]:
    """A walk over scale tones that lands on chord tones on strong beats and at the phrase end."""
    scale = set(plan.key.scale())
    pitches = []
    current = start
    for k, (beat, _) in enumerate(rhythm):
        bar = min(first_bar + int(beat // plan.beats_per_bar), plan.bars - 1)
        chord = set(plan.chords[bar].pitch_classes())
        strong = beat % 2 == 0 or k == len(rhythm) - 1
        pool = chord if strong else scale
        candidates = [p for p in range(low, high + 1) if p % 12 in pool]
        # Mostly steps, sometimes leaps; pulled back towards the middle of the range.
        target = current + int(rng.choice([-4, -2, -1, 0, 1, 2, 4], p=[0.08, 0.2, 0.2, 0.04, 0.2, 0.2, 0.08]))
        target += int(np.sign((low + high) / 2 - current)) * int(rng.random() < 0.2)
        current = min(candidates, key=lambda p: (abs(p - target), p))
        pitches.append(current)
    return pitches


def vibrato(note: Note, rng: np.random.Generator) -> list[Control]:
    """Pitch-bend vibrato that fades in after the attack, and a bend reset at the note start."""
    controls = [Control(note.start, "bend", 0, 0)]
    if note.duration < 0.3:
        return controls
    rate = rng.uniform(4.8, 6.5)  # Hz, a singer's vibrato
    depth = rng.uniform(0.15, 0.4) * _BEND_PER_SEMITONE
    onset = 0.12 + 0.1 * rng.random()
    t = onset
    while t < note.duration:
        fade = min(1.0, (t - onset) / 0.25)
        value = int(depth * fade * np.sin(2 * np.pi * rate * (t - onset)))
        controls.append(Control(note.start + t, "bend", 0, value))
        t += _BEND_STEP
    return controls


def melody_part(plan: SongPlan, rng: np.random.Generator, program: int) -> Part:
    """A sung-like lead over the whole song; a repeated section repeats its melody."""
    center = int(rng.integers(60, 70))
    low, high = center - 7, center + 10
    density = float(np.clip((130 - plan.tempo) / 60 + rng.normal(0, 0.1), 0.1, 0.8))
    memory: dict[tuple[str, int], tuple[list[tuple[float, float]], list[int]]] = {}
    notes: list[Note] = []
    current = center
    for first_bar in range(0, plan.bars, 2):
        section = plan.section_at(first_bar)
        slot = (section.name, first_bar - section.start_bar)
        if slot not in memory:
            rhythm = _phrase_rhythm(plan, rng, density)
            memory[slot] = (rhythm, _phrase_pitches(plan, rng, first_bar, rhythm, low, high, current))
        rhythm, pitches = memory[slot]
        for (beat, length), pitch in zip(rhythm, pitches, strict=True):
            bar = first_bar + int(beat // plan.beats_per_bar)
            if bar >= plan.bars:
                break
            start = max(0.0, plan.time(bar, beat % plan.beats_per_bar) + rng.normal(0.0, 0.01))
            velocity = int(np.clip(rng.normal(70 + 30 * section.energy, 6), 30, 127))
            notes.append(Note(start, length * plan.beat_seconds * 0.97, pitch, velocity))
            current = pitch
    # Humanised onsets can reach back into the previous note; a singer has one voice, so cut it short.
    for k in range(len(notes) - 1):
        gap_end = notes[k + 1].start - 0.01
        if notes[k].start + notes[k].duration > gap_end:
            notes[k] = replace(notes[k], duration=max(0.02, gap_end - notes[k].start))
    controls = [c for n in notes for c in vibrato(n, rng)]
    return Part(program=program, is_drum=False, notes=notes, controls=controls)
