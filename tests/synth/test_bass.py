"""Tests of bass lines."""

import numpy as np
import pytest

from synth.bass import bass_part
from synth.composer import make_plan


@pytest.mark.parametrize(
    "kind", ["root_fifth", "eighths", "octave", "syncopated", "walking", "tumbao", "reggae", "sustained"]
)
def test_bass_lines_sit_low_and_start_bars_on_chord_tones(kind: str) -> None:
    rng = np.random.default_rng(5)
    plan = make_plan(rng, 20.0, "pop")
    part = bass_part(plan, rng, kind, 33)
    assert part.notes and all(24 <= n.pitch <= 60 for n in part.notes)
    bar_seconds = plan.beats_per_bar * plan.beat_seconds
    for bar in range(plan.bars):
        first = [n for n in part.notes if abs(n.start - bar * bar_seconds) < 0.02]
        if first and kind != "tumbao":
            assert first[0].pitch % 12 in plan.chords[bar].pitch_classes()
