"""Tests of drum parts."""

import numpy as np

from synth.composer import make_plan
from synth.drums import CRASH, KICK, PATTERNS, TOMS, drum_part


def test_patterns_fill_whole_bars() -> None:
    for pattern in PATTERNS.values():
        assert {len(steps) for steps in pattern.values()} <= {12, 16}


def test_drum_part_has_kicks_on_the_beat_grid_crashes_and_fills() -> None:
    rng = np.random.default_rng(0)
    plan = make_plan(rng, 40.0, "rock")
    part = drum_part(plan, rng)
    assert part.is_drum
    pitches = {n.pitch for n in part.notes}
    assert {KICK, CRASH} <= pitches and pitches & set(TOMS)
    sixteenth = plan.beat_seconds / 4
    offsets = [abs(n.start / sixteenth - round(n.start / sixteenth)) * sixteenth for n in part.notes]
    assert np.median(offsets) < 0.01  # humanised by milliseconds, not off the grid
    assert len({n.velocity for n in part.notes}) > 10


def test_drum_part_is_seeded() -> None:
    plans = [make_plan(np.random.default_rng(3), 10.0) for _ in range(2)]
    parts = [drum_part(p, np.random.default_rng(1)) for p in plans]
    assert parts[0].notes == parts[1].notes
