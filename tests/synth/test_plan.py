"""Tests of the song plan's time grid and sections."""

from dataclasses import replace

from synth.plan import Section, SongPlan
from synth.style import STYLES
from synth.theory import Chord, Key


def _plan(swing: float = 0.0) -> SongPlan:
    style = replace(STYLES["rock"], swing=swing)
    sections = (Section("verse", 0, 2, 0.6), Section("chorus", 2, 2, 0.9))
    return SongPlan(style, Key(0, "major"), 120.0, 4, (Chord(0, ""),) * 4, sections)


def test_beats_and_bars_map_to_seconds() -> None:
    plan = _plan()
    assert plan.time(0, 0) == 0.0
    assert plan.time(1, 2) == 3.0
    assert plan.time(0, 0.5) == 0.25


def test_swing_delays_off_beat_eighths_only() -> None:
    plan = _plan(swing=0.6)
    assert plan.time(0, 1) == 0.5
    assert plan.time(0, 0.5) > 0.25


def test_sections_and_their_ends() -> None:
    plan = _plan()
    assert plan.section_at(3).name == "chorus"
    assert [plan.is_section_end(b) for b in range(4)] == [False, True, False, True]
    assert [s["name"] for s in plan.describe(3.9)["sections"]] == ["verse"]  # type: ignore[index]
