"""Tests of the instrument-class vocabulary."""

from synth.stems import MIXTURE, STEMS


def test_the_four_classes_match_the_model_vocabulary() -> None:
    assert STEMS == ("bass", "drums", "vocals", "other")
    assert MIXTURE not in STEMS
