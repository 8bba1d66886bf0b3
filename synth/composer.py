"""The procedural composer: draws a style, key, tempo, meter and form, then writes the four stems' parts."""

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from synth.bass import bass_part
from synth.comping import comp_part
from synth.drums import drum_part
from synth.gm import VOICE_PROGRAMS
from synth.melody import melody_part
from synth.plan import Section, SongPlan
from synth.score import Part
from synth.style import STYLES, Style
from synth.theory import PROGRESSIONS, TWELVE_BAR_BLUES, Chord, Key, progression, random_key

_FORM = ("verse", "chorus", "verse", "chorus", "bridge", "chorus", "verse", "chorus")
_ENERGY = {"verse": 0.6, "chorus": 0.9, "bridge": 0.7}


@dataclass
class Arrangement:
    """Parts for each stem plus the musical facts that go into metadata.json."""

    parts: dict[str, list[Part]]
    music: dict[str, Any]


def _section_chords(style: Style, key: Key, rng: np.random.Generator) -> dict[str, list[Chord]]:
    if style.blues:
        blues = progression(key, TWELVE_BAR_BLUES, sevenths=True, blues=True)
        return {"verse": blues, "chorus": blues, "bridge": blues}
    choices = PROGRESSIONS[key.mode]
    out = {}
    for name in ("verse", "chorus", "bridge"):
        degrees = choices[int(rng.integers(len(choices)))]
        out[name] = progression(key, degrees, sevenths=style.sevenths)
    return out


def make_plan(rng: np.random.Generator, duration: float, style_name: str | None = None) -> SongPlan:
    """A plan covering at least duration seconds, starting at a random section of the form."""
    style = STYLES[style_name] if style_name else STYLES[str(rng.choice(sorted(STYLES)))]
    key = random_key(rng, style.modes)
    tempo = float(rng.integers(style.tempo[0], style.tempo[1] + 1))
    beats = int(rng.choice(style.meters))
    bar_seconds = beats * 60.0 / tempo
    section_bars = 12 if style.blues else (8 if bar_seconds < 2.4 else 4)
    loops = _section_chords(style, key, rng)
    needed = math.ceil(duration / bar_seconds) + 1
    first = int(rng.integers(0, 4))
    chords: list[Chord] = []
    sections: list[Section] = []
    k = first
    while len(chords) < needed:
        name = _FORM[k % len(_FORM)]
        sections.append(Section(name, len(chords), section_bars, _ENERGY[name]))
        loop = loops[name]
        chords += [loop[i % len(loop)] for i in range(section_bars)]
        k += 1
    return SongPlan(style, key, tempo, beats, tuple(chords[:needed]), tuple(sections))


def arrange_plan(plan: SongPlan, rng: np.random.Generator, duration: float, vary_drums: bool = False) -> Arrangement:
    """Parts per stem that follow plan: programs, bass kind, comping, melody and drums drawn from rng.

    Args:
        vary_drums: vary the style's drum pattern too (sibling songs), not only its humanisation.
    """
    style = plan.style
    bass_program = int(rng.choice(style.bass_programs))
    comp_program = int(rng.choice(style.comp_programs))
    comp_kind = str(rng.choice(style.comping))
    other = [comp_part(plan, rng, comp_kind, comp_program, center=int(rng.integers(58, 68)))]
    if comp_kind not in ("pad",) and rng.random() < 0.5:
        pad_kind = "arpeggio" if rng.random() < 0.3 and comp_kind != "arpeggio" else "pad"
        other.append(comp_part(plan, rng, pad_kind, int(rng.choice(style.pad_programs)), int(rng.integers(64, 74))))
    voice = int(rng.choice(VOICE_PROGRAMS, p=[0.35, 0.35, 0.2, 0.1]))
    parts = {
        "bass": [bass_part(plan, rng, str(rng.choice(style.bass)), bass_program)],
        "drums": [drum_part(plan, rng, vary=vary_drums)],
        "vocals": [melody_part(plan, rng, voice)],
        "other": other,
    }
    music: dict[str, Any] = dict(plan.describe(duration))
    return Arrangement(parts, music)


def compose(rng: np.random.Generator, duration: float, style_name: str | None = None) -> Arrangement:
    """A procedural song of at least duration seconds, as parts per stem."""
    return arrange_plan(make_plan(rng, duration, style_name), rng, duration)
