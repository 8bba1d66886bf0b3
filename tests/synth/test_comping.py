"""Tests of the `other` stem's parts."""

import numpy as np
import pytest

from synth.comping import comp_part, voicing
from synth.composer import make_plan
from synth.theory import Chord


def test_voicing_holds_the_chord_near_its_center() -> None:
    notes = voicing(Chord(0, "maj7"), 64)
    assert {n % 12 for n in notes} == {0, 4, 7, 11}
    assert abs(np.mean(notes) - 64) <= 6
    assert 0 not in {n % 12 for n in voicing(Chord(0, "maj7"), 64, rootless=True)}


@pytest.mark.parametrize("kind", ["block", "strum", "stab", "jazz", "skank", "power", "pad", "arpeggio", "montuno"])
def test_comping_plays_chord_tones(kind: str) -> None:
    rng = np.random.default_rng(2)
    plan = make_plan(rng, 12.0, "pop")
    part = comp_part(plan, rng, kind, 0, 62)
    assert part.notes
    bar_seconds = plan.beats_per_bar * plan.beat_seconds
    for n in part.notes:
        chord = plan.chords[min(int((n.start + 0.05) / bar_seconds), plan.bars - 1)]
        assert n.pitch % 12 in chord.pitch_classes() or kind == "jazz"
