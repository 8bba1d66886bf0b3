"""Tests of keys, diatonic chords and progressions."""

import numpy as np

from synth.theory import PROGRESSIONS, TWELVE_BAR_BLUES, Chord, Key, diatonic_chord, progression, random_key


def test_diatonic_triads_of_c_major_have_textbook_qualities() -> None:
    key = Key(0, "major")
    symbols = [diatonic_chord(key, d).symbol for d in range(7)]
    assert symbols == ["C", "Dm", "Em", "F", "G", "Am", "Bdim"]


def test_diatonic_sevenths_of_a_minor() -> None:
    assert [diatonic_chord(Key(9, "minor"), d, seventh=True).symbol for d in (0, 2, 4)] == ["Am7", "Cmaj7", "Em7"]


def test_blues_progression_is_dominant_sevenths_on_one_four_five() -> None:
    chords = progression(Key(7, "major"), TWELVE_BAR_BLUES, sevenths=True, blues=True)
    assert {c.symbol for c in chords} == {"G7", "C7", "D7"}


def test_every_progression_builds_in_every_key() -> None:
    for mode, loops in PROGRESSIONS.items():
        for tonic in range(12):
            for loop in loops:
                chords = progression(Key(tonic, mode), loop, sevenths=True)
                assert all(set(c.pitch_classes()) for c in chords)


def test_chord_tones_lie_in_the_scale() -> None:
    key = Key(2, "dorian")
    for d in range(7):
        assert set(diatonic_chord(key, d).pitch_classes()) <= key.scale_set()


def test_relative_keys_share_a_key_signature() -> None:
    assert Key(0, "major").scale_set() == Key(9, "minor").scale_set() == Key(2, "dorian").scale_set()
    assert Chord(11, "m7").transposed(2).symbol == "C#m7"


def test_random_key_is_seeded() -> None:
    assert random_key(np.random.default_rng(4), ("major",)) == random_key(np.random.default_rng(4), ("major",))
