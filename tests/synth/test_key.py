"""Tests of Krumhansl-Schmuckler key estimation."""

import numpy as np
import pytest

from synth.key import estimate_key
from synth.theory import Key


@pytest.mark.parametrize(("tonic", "mode"), [(0, "major"), (7, "major"), (9, "minor"), (3, "minor")])
def test_a_weighted_scale_profile_gives_its_key(tonic: int, mode: str) -> None:
    profile = np.zeros(12)
    for degree, pc in enumerate(Key(tonic, mode).scale()):
        profile[pc] = 3.0 if degree in (0, 4) else (2.0 if degree == 2 else 1.0)
    assert estimate_key(profile) == (tonic, mode)


def test_a_profile_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(ValueError):
        estimate_key(np.ones(24))
