"""Tests of GM program labels."""

import pytest

from synth.gm import instrument_label


@pytest.mark.parametrize(
    ("program", "label"),
    [
        (0, "piano"),
        (16, "organ"),
        (29, "guitar"),
        (33, "bass"),
        (48, "strings"),
        (52, "voice"),
        (54, "voice"),
        (61, "brass"),
        (81, "synth lead"),
        (85, "synth voice"),
        (89, "pad"),
    ],
)
def test_programs_get_their_family_label(program: int, label: str) -> None:
    assert instrument_label(program) == label


def test_drums_and_out_of_range_programs() -> None:
    assert instrument_label(0, is_drum=True) == "drum kit"
    with pytest.raises(ValueError):
        instrument_label(128)
