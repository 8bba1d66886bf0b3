"""Parts for the `other` stem: comping, strums, stabs, arpeggios, pads, montunos, skanks, power chords."""

import numpy as np

from synth.plan import SongPlan
from synth.score import Note, Part
from synth.theory import Chord

# (beat, length in beats) hits per 4/4 bar for the chordal kinds; one is drawn per song.
_RHYTHMS: dict[str, tuple[tuple[tuple[float, float], ...], ...]] = {
    "block": (((0, 1), (1, 1), (2, 1), (3, 1)), ((0, 1.5), (1.5, 1), (2.5, 1.5)), ((0, 2), (2, 2))),
    "strum": (((0, 1), (1, 0.5), (1.5, 1), (2.5, 0.5), (3, 1)), tuple((b / 2, 0.45) for b in range(8))),
    "stab": (
        ((0.5, 0.2), (1.5, 0.2), (2.5, 0.2), (3.5, 0.2)),
        ((0, 0.2), (0.75, 0.2), (1.5, 0.2), (2.25, 0.2), (3.0, 0.2), (3.5, 0.2)),
    ),
    "jazz": (((0, 0.6), (1.5, 0.5)), ((0.5, 0.4), (2, 0.6), (3.5, 0.4))),
    "skank": (((1, 0.3), (3, 0.3)), ((1, 0.25), (1.5, 0.2), (3, 0.25), (3.5, 0.2))),
    "power": (tuple((b / 2, 0.35) for b in range(8)), ((0, 2), (2, 2))),
    "pad": (((0, 4),),),
}
_WALTZ_RHYTHM = ((1, 0.8), (2, 0.8))


def voicing(chord: Chord, center: int, rootless: bool = False) -> list[int]:
    """A close chord voicing whose mean pitch lies nearest to center (MIDI pitch)."""
    pcs = list(chord.pitch_classes())
    if rootless and len(pcs) > 3:
        pcs = [*pcs[1:], (chord.root + 2) % 12]  # drop the root, add the ninth, as jazz pianists do
    best: list[int] = []
    for low in range(center - 9, center + 3):
        notes = sorted(low + (pc - low) % 12 for pc in pcs)
        if not best or abs(np.mean(notes) - center) < abs(np.mean(best) - center):
            best = notes
    return best


def _power(chord: Chord) -> list[int]:
    root = 40 + (chord.root - 4) % 12
    return [root, root + 7, root + 12]


def _arpeggio(
    plan: SongPlan, bar: int, center: int, per_beat: int, rng: np.random.Generator
) -> list[tuple[float, float, int]]:
    tones = voicing(plan.chords[bar], center)
    cycle = tones + [t + 12 for t in tones]
    if rng.random() < 0.5:
        cycle = cycle + cycle[-2:0:-1]  # up and down
    steps = plan.beats_per_bar * per_beat
    return [(k / per_beat, 1.0 / per_beat, cycle[k % len(cycle)]) for k in range(steps)]


def _montuno(plan: SongPlan, bar: int, center: int) -> list[tuple[float, float, int]]:
    """A piano montuno: syncopated broken chords with the top voice doubled an octave down."""
    tones = voicing(plan.chords[bar], center)
    hits = (0.0, 1.0, 1.5, 2.5, 3.0, 3.5)
    out = []
    for k, beat in enumerate(hits):
        top = tones[k % len(tones)]
        out += [(beat, 0.4, top), (beat, 0.4, top - 12)]
    return out


def comp_part(plan: SongPlan, rng: np.random.Generator, kind: str, program: int, center: int) -> Part:
    """A chordal or broken-chord part over the whole song.

    Args:
        kind: "block", "strum", "stab", "jazz", "skank", "power", "pad", "arpeggio" or "montuno".
        program: GM program.
        center: MIDI pitch the voicings gather around.
    """
    rhythms = _RHYTHMS.get(kind, ((),))
    rhythm = rhythms[int(rng.integers(len(rhythms)))]
    per_beat = int(rng.choice([2, 4])) if plan.tempo < 120 else 2
    strum_gap = 0.012 if kind == "strum" else 0.0  # seconds between strings of a downstroke
    notes: list[Note] = []
    for bar in range(plan.bars):
        chord = plan.chords[bar]
        energy = plan.section_at(bar).energy
        if kind == "arpeggio":
            hits = _arpeggio(plan, bar, center, per_beat, rng)
        elif kind == "montuno":
            hits = _montuno(plan, bar, center)
        else:
            pitches = _power(chord) if kind == "power" else voicing(chord, center, rootless=kind == "jazz")
            pattern = _WALTZ_RHYTHM if plan.beats_per_bar == 3 and kind in ("block", "strum", "skank") else rhythm
            hits = [(beat, length, p) for beat, length in pattern for p in pitches]
        base_velocity = 55 + 40 * energy
        order: dict[float, int] = {}
        for beat, length, pitch in hits:
            if beat >= plan.beats_per_bar:
                continue
            length = min(length, plan.beats_per_bar - beat)
            k = order[beat] = order.get(beat, -1) + 1
            start = max(0.0, plan.time(bar, beat) + k * strum_gap + rng.normal(0.0, 0.004))
            velocity = int(np.clip(rng.normal(base_velocity, 7), 25, 127))
            notes.append(Note(start, length * plan.beat_seconds * 0.95, pitch, velocity))
    return Part(program=program, is_drum=False, notes=notes)
