"""Drum parts: a step pattern per style with section fills, crashes, swing and humanised velocity/timing."""

import numpy as np

from synth.plan import SongPlan
from synth.score import Note, Part

KICK, RIM, SNARE, CLAP, CLOSED_HAT, PEDAL_HAT, OPEN_HAT = 36, 37, 38, 39, 42, 44, 46
CRASH, RIDE, TAMBOURINE, COWBELL, HIGH_CONGA, LOW_CONGA, MARACAS, CLAVES = 49, 51, 54, 56, 63, 64, 70, 75
TOMS = (50, 48, 47, 45, 43, 41)  # high to low

# One character per sixteenth of a 4/4 bar; the letter sets the velocity (see _VELOCITY).
PATTERNS: dict[str, dict[int, str]] = {
    "rock": {KICK: "x.......x.x.....", SNARE: "....x.......x...", CLOSED_HAT: "x.o.x.o.x.o.x.o."},
    "pop": {
        KICK: "x.....x.x.......",
        SNARE: "....x.......x...",
        CLOSED_HAT: "x.o.x.o.x.o.x.o.",
        TAMBOURINE: "....o.......o...",
    },
    "funk": {KICK: "x..x...x..x.....", SNARE: "....X..g.g..X..g", CLOSED_HAT: "xoxoxoxoxoxoxoxo"},
    "disco": {
        KICK: "x...x...x...x...",
        SNARE: "....x.......x...",
        CLOSED_HAT: "xo.oxo.oxo.oxo.o",
        OPEN_HAT: "..x...x...x...x.",
    },
    "jazz": {RIDE: "x...x.x.x...x.x.", PEDAL_HAT: "....x.......x...", KICK: "g...g...g...g..."},
    "shuffle": {KICK: "x.....x.x.......", SNARE: "....x.......x...", CLOSED_HAT: "x.o.x.o.x.o.x.o."},
    "latin": {
        KICK: "x..x....x..x....",
        CLAVES: "x..x..x...x.x...",
        MARACAS: "xoooxoooxoooxooo",
        HIGH_CONGA: "......xo......xo",
        LOW_CONGA: "...x.......x....",
    },
    "reggae": {KICK: "........x.......", RIM: "........x.......", CLOSED_HAT: "x.o.x.o.x.o.x.o."},
    "hiphop": {
        KICK: "x......x..x.....",
        SNARE: "....x.......x...",
        CLAP: "....o.......o...",
        CLOSED_HAT: "x.o.x.o.x.o.x.o.",
    },
    "four_on_floor": {
        KICK: "x...x...x...x...",
        CLAP: "....x.......x...",
        CLOSED_HAT: "xo.oxo.oxo.oxo.o",
        OPEN_HAT: "..x...x...x...x.",
    },
    "ballad": {KICK: "x.......x.x.....", RIM: "....x.......x...", CLOSED_HAT: "o.o.o.o.o.o.o.o."},
    "metal": {KICK: "xxxxxxxxxxxxxxxx", SNARE: "....X.......X...", RIDE: "x.x.x.x.x.x.x.x."},
    "country": {KICK: "x.......x.......", SNARE: "....x.......x...", CLOSED_HAT: "xoxoxoxoxoxoxoxo"},
    "waltz": {KICK: "x...........", SNARE: "....o...o...", CLOSED_HAT: "x...x...x..."},
}

_VELOCITY = {"X": 120, "x": 100, "o": 70, "g": 40}
_LOUD_HATS = {CLOSED_HAT: RIDE}  # a chorus may move the hats to the ride for lift
_NOTE_SECONDS = 0.4


def _steps(pattern: str, beats_per_bar: int) -> str:
    # A 4/4 pattern in a 3/4 bar keeps its first three beats.
    return pattern[: beats_per_bar * 4]


def _fill(plan: SongPlan, bar: int, rng: np.random.Generator, energy: float) -> list[tuple[float, int, int]]:
    """(beat, drum, velocity) of a sixteenth-note fill down the toms over the last one or two beats."""
    beats = int(rng.choice([1, 2]))
    start = plan.beats_per_bar - beats
    hits = []
    for k in range(beats * 4):
        drum = SNARE if rng.random() < 0.3 else TOMS[min(len(TOMS) - 1, k * len(TOMS) // (beats * 4))]
        hits.append((start + k / 4, drum, int(80 + 35 * energy)))
    return hits


def _with_hits(steps: str, rng: np.random.Generator, candidates: list[int], count: int, char: str) -> str:
    free = [k for k in candidates if steps[k] == "."]
    if not free:
        return steps
    chosen = rng.choice(free, size=min(count, len(free)), replace=False)
    return "".join(char if k in chosen else c for k, c in enumerate(steps))


def varied_pattern(pattern: dict[int, str], rng: np.random.Generator) -> dict[int, str]:
    """Another drummer's take on a style's pattern: extra kicks on eighths, ghost snares, other hat density,
    hats moved to the ride. Same meter and backbeat, so it stays within the style."""
    out = dict(pattern)
    if KICK in out and rng.random() < 0.7:
        steps = out[KICK]
        out[KICK] = _with_hits(steps, rng, list(range(2, len(steps), 2)), int(rng.integers(1, 3)), "o")
    if SNARE in out and rng.random() < 0.5:
        steps = out[SNARE]
        out[SNARE] = _with_hits(steps, rng, list(range(1, len(steps), 2)), int(rng.integers(1, 4)), "g")
    if CLOSED_HAT in out and rng.random() < 0.5:
        steps = out[CLOSED_HAT]
        busy = sum(c != "." for c in steps) > len(steps) // 2
        # Sixteenths become eighths and eighths sixteenths, accents on the beats.
        out[CLOSED_HAT] = "".join(
            ("x" if k % 4 == 0 else "o") if (k % 2 == 0 or not busy) else "." for k in range(len(steps))
        )
    if CLOSED_HAT in out and RIDE not in out and rng.random() < 0.25:
        out[RIDE] = out.pop(CLOSED_HAT)
    return out


def drum_part(plan: SongPlan, rng: np.random.Generator, vary: bool = False) -> Part:
    """The whole drum part of a song: the style's pattern each bar, a fill ending each section.

    Args:
        vary: play a variation of the style's pattern (see varied_pattern), drawn first from rng.
    """
    pattern = PATTERNS[
        "waltz" if plan.beats_per_bar == 3 and plan.style.drums in ("ballad", "pop") else plan.style.drums
    ]
    if vary:
        pattern = varied_pattern(pattern, rng)
    chorus_ride = bool(rng.random() < 0.5)
    timing_sd = float(rng.uniform(0.002, 0.01))  # seconds: tight studio drummer to loose
    notes: list[Note] = []
    for bar in range(plan.bars):
        section = plan.section_at(bar)
        hits: list[tuple[float, int, int]] = []
        if bar == section.start_bar:
            hits.append((0.0, CRASH, 110))
        fill = plan.is_section_end(bar) and section.bars > 1 and rng.random() < 0.75
        fill_hits = _fill(plan, bar, rng, section.energy) if fill else []
        fill_start = min((b for b, _, _ in fill_hits), default=float(plan.beats_per_bar))
        for drum, steps in pattern.items():
            if chorus_ride and section.name == "chorus":
                drum = _LOUD_HATS.get(drum, drum)
            for step, char in enumerate(_steps(steps, plan.beats_per_bar)):
                if char in _VELOCITY and step / 4 < fill_start:
                    hits.append((step / 4, drum, _VELOCITY[char]))
        if plan.style.drums == "jazz":
            # Jazz drummers comp on the snare: sparse ghosted eighths, different every bar.
            hits += [(b / 2, SNARE, 45) for b in range(plan.beats_per_bar * 2) if rng.random() < 0.15]
        hits += fill_hits
        for beat, drum, velocity in hits:
            scale = 0.6 + 0.4 * section.energy
            v = int(np.clip(velocity * scale * rng.normal(1.0, 0.08), 1, 127))
            t = max(0.0, plan.time(bar, beat) + rng.normal(0.0, timing_sd))
            notes.append(Note(t, _NOTE_SECONDS, drum, v))
    return Part(program=0, is_drum=True, notes=notes)
