"""Sibling songs: groups of procedural songs that share one plan but are arranged and rendered independently.

A group draws one `SongPlan` (style, key, mode, tempo, meter, chords, sections). Each sibling plays that plan;
each variant plays it transposed or at another tempo (a "conformable" song: it fits once pitch-shifted or
time-stretched back). Every member draws its own arrangement (part kinds, GM programs, melody, a variation
of the style's drum pattern) and rendering (soundfonts, room, gains, sends, humanisation). MIDI-corpus and
MMA songs take no part: their chords are not an explicit plan, and re-orchestrating the same notes would
make siblings near-copies that a fingerprint could match.

Generators come from `np.random.SeedSequence([SIBLING_TAG, seed, group, kind, number])`: five words where
an ordinary song's `song_rng(seed, index)` has two, so no sibling stream is an ordinary song's stream.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from synth.composer import Arrangement, arrange_plan, make_plan
from synth.plan import SongPlan
from synth.sets import check_seed
from synth.song import SongSettings, write_song

SIBLING_TAG = 0x5EB1_1265  # first entropy word of every sibling stream
_PLAN, _SIBLING, _VARIANT = 1, 2, 3  # kinds of stream: a group's plan, a sibling's or a variant's arrangement
SIBLING, VARIANT = "sibling", "variant"

TRANSPOSITIONS = (-5, -4, -3, -2, -1, 1, 2, 3, 4, 5)  # semitones
TEMPO_RATIOS = ((0.92, 0.96), (1.04, 1.08))  # ranges a variant's tempo ratio is drawn from
_VARIANT_KINDS = ("transpose", "tempo", "both")  # variant k plays kind (k - 1) % 3


def sibling_rng(seed: int, group: int, kind: int, number: int) -> np.random.Generator:
    """The generator of one group's plan (kind 1) or one member's arrangement (2: sibling, 3: variant)."""
    return np.random.default_rng(np.random.SeedSequence([SIBLING_TAG, seed, group, kind, number]))


@dataclass(frozen=True)
class Shift:
    """How a variant's plan differs from its group's: semitones up, and tempo ratio (>1 is faster)."""

    transpose_semitones: int = 0
    tempo_ratio: float = 1.0


@dataclass(frozen=True)
class Member:
    """One song of a group: a sibling or a variant, numbered from 1 within its role."""

    group: int
    role: str
    number: int

    @property
    def name(self) -> str:
        return f"group_{self.group:05d}_{'sib' if self.role == SIBLING else 'var'}{self.number}"


@dataclass(frozen=True)
class SiblingCorpus:
    """What a sibling corpus holds: groups x (siblings + variants) songs from one seed.

    Attributes:
        set_name: the fixed set (synth.sets) the corpus is, written to every song's metadata; None otherwise.
    """

    seed: int
    groups: int
    siblings: int
    variants: int = 2
    set_name: str | None = None

    def __post_init__(self) -> None:
        if self.seed < 0 or self.groups < 0 or self.siblings < 1 or self.variants < 0:
            raise ValueError("seed and groups must be >= 0, siblings >= 1 and variants >= 0")
        check_seed(self.seed, self.set_name)

    def members(self) -> list[Member]:
        """Every song, group by group: siblings first, then variants."""
        return [
            Member(g, role, k)
            for g in range(self.groups)
            for role, count in ((SIBLING, self.siblings), (VARIANT, self.variants))
            for k in range(1, count + 1)
        ]


def _shifts(rng: np.random.Generator, count: int) -> list[Shift]:
    """The first count variants' shifts; each draws both numbers, so variant k is the same for any count."""
    out = []
    for k in range(1, count + 1):
        semitones = int(rng.choice(TRANSPOSITIONS))
        low, high = TEMPO_RATIOS[int(rng.integers(len(TEMPO_RATIOS)))]
        ratio = round(float(rng.uniform(low, high)), 3)
        kind = _VARIANT_KINDS[(k - 1) % len(_VARIANT_KINDS)]
        out.append(Shift(semitones if kind != "tempo" else 0, ratio if kind != "transpose" else 1.0))
    return out


def group_plan(seed: int, group: int, duration: float, variants: int = 0) -> tuple[SongPlan, list[Shift]]:
    """A group's plan and its first variants' shifts.

    The plan covers duration at the slowest variant tempo, so every member plays the same bars and chords.
    """
    rng = sibling_rng(seed, group, _PLAN, 0)
    plan = make_plan(rng, duration / TEMPO_RATIOS[0][0])
    return plan, _shifts(rng, variants)


def make_member(corpus: SiblingCorpus, member: Member, settings: SongSettings, folder: Path) -> dict[str, Any]:
    """Write one member (five FLAC files and metadata.json) into an existing empty folder; returns its metadata."""
    variant = member.role == VARIANT
    plan, shifts = group_plan(corpus.seed, member.group, settings.duration, member.number if variant else 0)
    shift = shifts[-1] if variant else Shift()
    own = plan.transposed(shift.transpose_semitones).at_tempo(shift.tempo_ratio)
    kind = _VARIANT if variant else _SIBLING
    rng = sibling_rng(corpus.seed, member.group, kind, member.number)

    def arrange(attempt: int, workdir: Path) -> tuple[Arrangement, str]:
        return arrange_plan(own, rng, settings.duration, vary_drums=True), "procedural"

    head = {
        "name": member.name,
        "seed": corpus.seed,
        "set": corpus.set_name,
        "group": member.group,
        "role": member.role,
        "member": member.number,
        "transpose_semitones": shift.transpose_semitones,
        "tempo_ratio": shift.tempo_ratio,
        "reference_key": plan.key.name,
        "reference_tempo": plan.tempo,
    }
    return write_song(folder, rng, settings, arrange, head)
