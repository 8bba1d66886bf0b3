"""Real MIDI arrangements turned into four-stem songs: window, transposition, tempo change, class split."""

import itertools
import logging
from dataclasses import replace
from typing import Any

import numpy as np

from synth.composer import Arrangement
from synth.gm import BASS_PROGRAMS, VOICE_PROGRAMS
from synth.key import estimate_key
from synth.melody import vibrato
from synth.score import Note, Part
from synth.theory import PITCH_NAMES

logger = logging.getLogger(__name__)

_MIN_NOTES = 4  # per stem in the window, else the stem would be (nearly) silent


def _mean_pitch(part: Part) -> float:
    return float(np.mean([n.pitch for n in part.notes]))


def _monophony(part: Part) -> float:
    """Fraction of notes that start after the previous note ended: 1.0 for a single melodic line."""
    notes = sorted(part.notes, key=lambda n: n.start)
    if len(notes) < 2:
        return 0.0
    free = sum(b.start >= a.start + a.duration - 0.05 for a, b in itertools.pairwise(notes))
    return free / (len(notes) - 1)


def _skyline(part: Part) -> tuple[Part, Part]:
    """The part's top line (highest note of each onset, cut where the next starts) and the remaining notes."""
    notes = sorted(part.notes, key=lambda n: (round(n.start, 2), -n.pitch))
    top: list[Note] = []
    rest: list[Note] = []
    for n in notes:
        if top and round(top[-1].start, 2) == round(n.start, 2):
            rest.append(n)
            continue
        if top and top[-1].start + top[-1].duration > n.start:
            top[-1] = replace(top[-1], duration=n.start - top[-1].start)
        top.append(n)
    return replace(part, notes=top), replace(part, notes=rest, controls=list(part.controls))


def split_classes(parts: list[Part]) -> dict[str, list[Part]]:
    """Sort parts into bass, drums, vocals and other by drum channel, GM program and melodic role.

    Drum channel -> drums; bass programs 32-39 (or, without any, the lowest line below E3) -> bass; the most
    monophonic, highest-lying remaining line (else the top voice of the highest part) -> vocals;
    everything else -> other.
    """
    out: dict[str, list[Part]] = {"bass": [], "drums": [], "vocals": [], "other": []}
    melodic = []
    for part in parts:
        if part.is_drum:
            out["drums"].append(part)
        elif part.program in BASS_PROGRAMS:
            out["bass"].append(part)
        else:
            melodic.append(part)
    if not out["bass"] and melodic:
        lowest = min(melodic, key=_mean_pitch)
        if _mean_pitch(lowest) < 52:
            out["bass"].append(lowest)
            melodic.remove(lowest)
    leads = [p for p in melodic if _monophony(p) > 0.6 and _mean_pitch(p) >= 55 and len(p.notes) >= _MIN_NOTES]
    if leads and len(melodic) > 1:
        lead = max(leads, key=lambda p: (_mean_pitch(p) + 0.2 * len(p.notes), p.program))
        out["vocals"].append(lead)
        melodic.remove(lead)
    elif melodic:
        # No single-line part: take the top voice of the highest part, as a singer would carry it.
        highest = max(melodic, key=lambda p: (_mean_pitch(p), p.program))
        lead, rest = _skyline(highest)
        if _mean_pitch(highest) >= 55 and len(lead.notes) >= _MIN_NOTES and rest.notes:
            out["vocals"].append(lead)
            melodic[melodic.index(highest)] = rest
    out["other"] = melodic
    return out


def _key_of(parts: list[Part]) -> tuple[int, str]:
    profile = np.zeros(12)
    for part in parts:
        if not part.is_drum:
            for n in part.notes:
                profile[n.pitch % 12] += n.duration
    return estimate_key(profile)


def _value_at(changes: list[tuple[float, Any]], time: float, default: Any) -> Any:
    value = default
    for t, v in changes:
        if t <= time:
            value = v
    return value


def arrange_midi(
    parts: list[Part],
    tempi: list[tuple[float, float]],
    meters: list[tuple[float, str]],
    rng: np.random.Generator,
    duration: float,
) -> Arrangement | None:
    """A song of duration seconds from a real arrangement, or None when a class is missing in the window."""
    stretch = float(rng.uniform(0.85, 1.15))  # > 1 slows down
    shift = int(rng.integers(-4, 5))
    parts = [p.stretched(stretch).transposed(shift) for p in parts]
    length = max(p.end() for p in parts)
    start = float(rng.uniform(0.0, max(0.0, length - duration)))
    windowed = [w for w in (p.window(start, duration) for p in parts) if w.notes]
    classes = split_classes(windowed)
    if any(sum(len(p.notes) for p in classes[stem]) < _MIN_NOTES for stem in classes):
        return None
    lead = classes["vocals"][0]
    relabelled = rng.random() < 0.7
    if relabelled:
        # Sung timbre and vibrato make the lead line closer to what the vocals class holds in real songs.
        voice = int(rng.choice(VOICE_PROGRAMS, p=[0.35, 0.35, 0.2, 0.1]))
        controls = [c for c in lead.controls if c.kind != "bend"] + [c for n in lead.notes for c in vibrato(n, rng)]
        classes["vocals"] = [replace(lead, program=voice, controls=controls)]
    tonic, mode = _key_of(windowed)
    source_time = start / stretch
    music = {
        "style": None,
        "key": f"{PITCH_NAMES[tonic]} {mode}",
        "tonic": tonic,
        "mode": mode,
        "key_estimated": True,
        "tempo": round(_value_at(tempi, source_time, 120.0) / stretch, 3),
        "time_signature": _value_at(meters, source_time, "4/4"),
        "chords": None,
        "sections": None,
        "transpose": shift,
        "tempo_factor": 1.0 / stretch,
        "source_start": source_time,
        "lead_revoiced": bool(relabelled),
    }
    return Arrangement(classes, music)
