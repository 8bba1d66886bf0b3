"""Keys: profiles, the best key, transposition of profiles, names, Camelot codes and the MIREX score."""

import numpy as np
import pytest

from analysis.chroma import pitch_class_summary, to_chroma_rate
from analysis.key import (
    CLOSE_CALL_MARGIN,
    KeyEstimate,
    KeyParseError,
    best_key,
    camelot,
    camelot_compatible,
    estimate_key,
    index_of_key,
    key_profile,
    mirex_score,
    parse_key,
    rotate_profile,
)
from tests.analysis.music import SR, song

SCALE = np.zeros(12)
SCALE[[0, 2, 4, 5, 7, 9, 11]] = 1.0
SCALE[[0, 4, 7]] += 1.0  # tonic triad weighted


@pytest.mark.parametrize("tonic", range(12))
def test_a_weighted_major_scale_gives_its_key_and_its_rotations_the_transposed_keys(tonic: int) -> None:
    assert estimate_key(np.roll(SCALE, tonic)) == (tonic, "major")
    profile = key_profile(SCALE)
    np.testing.assert_allclose(rotate_profile(profile, tonic), key_profile(np.roll(SCALE, tonic)), atol=1e-6)


def test_best_key_confidence_and_flat_profiles() -> None:
    est = best_key(key_profile(SCALE))
    assert est.key == (0, "major") and est.name == "C major" and est.confidence > 0
    assert not key_profile(np.ones(12)).any()
    with pytest.raises(ValueError):
        best_key(np.zeros(12))


def test_a_close_call_names_the_runner_up_key() -> None:
    profile = np.zeros(24, dtype=np.float32)
    profile[index_of_key((8, "minor"))], profile[index_of_key((4, "major"))] = 0.85, 0.85 - CLOSE_CALL_MARGIN / 2
    close = best_key(profile)
    assert close.key == (8, "minor") and close.runner_up == (4, "major") and close.close_call
    profile[index_of_key((4, "major"))] = 0.85 - 2 * CLOSE_CALL_MARGIN
    clear = best_key(profile)
    assert clear.runner_up == (4, "major") and not clear.close_call
    assert not KeyEstimate(0, "major", 0.0).close_call  # no runner-up known


@pytest.mark.parametrize("tonic", [0, 3, 7, 10])
def test_the_key_of_a_generated_song_is_found_from_its_audio(tonic: int) -> None:
    summary = pitch_class_summary(to_chroma_rate(song(110.0, tonic), SR))
    assert estimate_key(summary) == (tonic, "major")


@pytest.mark.parametrize(("text", "key"), [("A minor", (9, "minor")), ("Am", (9, "minor")), ("F#", (6, "major")),
                                          ("Bbm", (10, "minor")), ("C:min", (0, "minor")), ("Eb dorian", (3, "minor")),
                                          ("8A", (9, "minor")), ("8b", (0, "major")), ("1B", (11, "major"))])
def test_keys_parse_from_names_and_camelot_codes(text: str, key: tuple[int, str]) -> None:
    assert parse_key(text) == key


@pytest.mark.parametrize("text", ["", "H minor", "13A", "0B", "C major minor", "Cx"])
def test_bad_key_text_is_refused(text: str) -> None:
    with pytest.raises(KeyParseError):
        parse_key(text)


def test_camelot_codes_and_neighbours() -> None:
    assert camelot((0, "major")) == "8B" and camelot((9, "minor")) == "8A" and camelot((7, "major")) == "9B"
    assert all(parse_key(camelot((t, m))) == (t, m) for t in range(12) for m in ("major", "minor"))
    c = (0, "major")
    assert camelot_compatible(c, (7, "major")) and camelot_compatible(c, (5, "major"))
    assert camelot_compatible(c, (9, "minor")) and not camelot_compatible(c, (2, "major"))
    assert not camelot_compatible(c, (0, "minor"))


def test_mirex_score() -> None:
    c = (0, "major")
    assert [mirex_score(k, c) for k in [c, (7, "major"), (9, "minor"), (0, "minor"), (1, "major")]] == \
        [1.0, 0.5, 0.3, 0.2, 0.0]
