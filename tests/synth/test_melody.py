"""Tests of the sung lead melody."""

import itertools

import numpy as np

from synth.composer import make_plan
from synth.melody import melody_part


def test_melody_is_a_single_line_in_key_with_rests_and_vibrato() -> None:
    rng = np.random.default_rng(8)
    plan = make_plan(rng, 30.0, "pop")
    part = melody_part(plan, rng, 53)
    notes = sorted(part.notes, key=lambda n: n.start)
    assert len(notes) > 10
    assert all(a.start + a.duration <= b.start + 1e-3 for a, b in itertools.pairwise(notes))
    in_scale = np.mean([n.pitch % 12 in plan.key.scale() for n in notes])
    assert in_scale == 1.0
    gaps = [b.start - (a.start + a.duration) for a, b in itertools.pairwise(notes)]
    assert max(gaps) > plan.beat_seconds * 0.9  # phrases breathe
    bends = [c.value for c in part.controls if c.kind == "bend"]
    assert min(bends) < -300 and max(bends) > 300
