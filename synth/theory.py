"""Keys, modes, diatonic chords and chord progressions: the harmony a procedural song is built on."""

from dataclasses import dataclass

import numpy as np

PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")

MODES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
}

# Which of the two Krumhansl key profiles a mode's tonic sounds like.
MODE_FAMILY = {"major": "major", "mixolydian": "major", "minor": "minor", "dorian": "minor"}

CHORD_INTERVALS: dict[str, tuple[int, ...]] = {
    "": (0, 4, 7),
    "m": (0, 3, 7),
    "dim": (0, 3, 6),
    "aug": (0, 4, 8),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "m7": (0, 3, 7, 10),
    "m7b5": (0, 3, 6, 10),
    "sus4": (0, 5, 7),
}

# Progressions as zero-based scale degrees, one chord per bar; looped over a section.
PROGRESSIONS: dict[str, tuple[tuple[int, ...], ...]] = {
    "major": (
        (0, 4, 5, 3),
        (0, 3, 4, 3),
        (0, 5, 3, 4),
        (1, 4, 0, 0),
        (0, 3, 0, 4),
        (5, 3, 0, 4),
        (0, 2, 3, 4),
    ),
    "minor": ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6), (0, 3, 6, 2), (0, 5, 3, 4), (0, 0, 3, 4)),
    "dorian": ((0, 3, 0, 3), (0, 6, 3, 0), (0, 1, 0, 6)),
    "mixolydian": ((0, 6, 3, 0), (0, 3, 6, 0), (0, 0, 6, 3)),
}

TWELVE_BAR_BLUES = (0, 3, 0, 0, 3, 3, 0, 0, 4, 3, 0, 4)


@dataclass(frozen=True)
class Key:
    """A tonic pitch class (0 = C) and a mode name from MODES."""

    tonic: int
    mode: str

    @property
    def name(self) -> str:
        return f"{PITCH_NAMES[self.tonic]} {self.mode}"

    def scale(self) -> tuple[int, ...]:
        """Pitch classes of the scale, tonic first."""
        return tuple((self.tonic + step) % 12 for step in MODES[self.mode])

    def scale_set(self) -> frozenset[int]:
        """Pitch classes of the scale as a set: equal for keys with the same key signature."""
        return frozenset(self.scale())


@dataclass(frozen=True)
class Chord:
    """A chord root pitch class and a quality from CHORD_INTERVALS."""

    root: int
    quality: str

    @property
    def symbol(self) -> str:
        return PITCH_NAMES[self.root] + self.quality

    def pitch_classes(self) -> tuple[int, ...]:
        return tuple((self.root + i) % 12 for i in CHORD_INTERVALS[self.quality])

    def transposed(self, semitones: int) -> "Chord":
        return Chord((self.root + semitones) % 12, self.quality)


def _quality(intervals: tuple[int, ...]) -> str:
    for quality, shape in CHORD_INTERVALS.items():
        if shape == intervals:
            return quality
    raise ValueError(f"no chord quality with intervals {intervals}")


def diatonic_chord(key: Key, degree: int, seventh: bool = False) -> Chord:
    """The chord stacked in thirds on a zero-based scale degree of the key."""
    steps = MODES[key.mode]
    root = steps[degree % 7]
    count = 4 if seventh else 3
    intervals = tuple((steps[(degree + 2 * k) % 7] - root) % 12 for k in range(count))
    return Chord((key.tonic + root) % 12, _quality(intervals))


def progression(key: Key, degrees: tuple[int, ...], sevenths: bool, blues: bool = False) -> list[Chord]:
    """Chords for scale degrees; a blues turns the I, IV and V into dominant sevenths."""
    if blues:
        return [Chord((key.tonic + MODES["major"][d]) % 12, "7") for d in degrees]
    return [diatonic_chord(key, d, sevenths) for d in degrees]


def random_key(rng: np.random.Generator, modes: tuple[str, ...]) -> Key:
    """A uniformly drawn tonic in one of the allowed modes."""
    return Key(int(rng.integers(12)), str(rng.choice(list(modes))))
