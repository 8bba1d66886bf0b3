"""Tests of the procedural composer."""

import numpy as np

from synth.composer import compose, make_plan
from synth.gm import VOICE_PROGRAMS
from synth.stems import STEMS
from synth.style import STYLES


def test_plans_cover_the_duration_with_sections() -> None:
    for seed in range(20):
        plan = make_plan(np.random.default_rng(seed), 30.0)
        assert plan.bars * plan.beats_per_bar * plan.beat_seconds >= 30.0
        assert plan.sections[0].start_bar == 0
        assert plan.style.tempo[0] <= plan.tempo <= plan.style.tempo[1]


def test_every_style_composes_four_stems() -> None:
    for k, style in enumerate(STYLES):
        song = compose(np.random.default_rng(k), 8.0, style)
        assert set(song.parts) == set(STEMS)
        assert all(p.notes for parts in song.parts.values() for p in parts)
        assert song.parts["drums"][0].is_drum
        assert song.parts["vocals"][0].program in VOICE_PROGRAMS
        assert song.music["style"] == style and len(song.music["chords"]) >= 2
