"""Tests that every style refers to parts the generators know."""

from synth.bass import _FIGURES
from synth.drums import PATTERNS
from synth.style import STYLES


def test_styles_name_known_patterns_and_valid_programs() -> None:
    assert len(STYLES) >= 12
    for style in STYLES.values():
        assert style.drums in PATTERNS
        assert set(style.bass) <= set(_FIGURES) | {"walking", "tumbao", "syncopated"}
        assert all(0 <= p < 128 for p in style.comp_programs + style.pad_programs)
        assert all(32 <= p < 40 or p in (43, 58) for p in style.bass_programs)  # basses, contrabass, tuba
        assert style.tempo[0] <= style.tempo[1]
