"""The placement diagnosis: miss kinds, the truth's rank among its neighbours, the length leak, and where the
correlations peak over a whole song."""

import numpy as np
import pytest

from analysis.music import StoredAnalysis
from evaluation.diagnosis import (
    MISS_KINDS,
    length_offset,
    local_tops,
    miss_kind,
    whole_song_preferences,
    windowed_choice,
)
from evaluation.excerpts import AlignmentInputs, Multitrack

SR = 16000


def test_miss_kinds_by_beats_and_bars():
    assert miss_kind(0.15, 0.5) == MISS_KINDS[0]
    assert miss_kind(-0.5, 0.5) == MISS_KINDS[1]
    assert miss_kind(1.9, 0.5) == MISS_KINDS[2]
    assert miss_kind(-2.5, 0.5) == MISS_KINDS[3]
    assert miss_kind(1.9, 0.5, beats_per_bar=3) == MISS_KINDS[3]


def test_the_truth_tops_only_evidence_that_singles_it_out():
    offsets = np.array([-3.0, 1.6, 2.0, 2.35, 2.7])
    rows = np.array([[9.0, 1.0, 0.0], [0.0, 1.0, 1.0], [1.0, 1.0, 2.0], [0.5, 1.0, 3.0], [0.2, 1.0, 0.0]])
    # the far candidate (-3 s) lies outside the 1 s neighbourhood; a flat column is no top; the third prefers 2.35
    assert local_tops(rows, offsets, truth=2.05, radius_seconds=1.0).tolist() == [True, False, False]
    assert local_tops(rows, offsets, truth=5.0, radius_seconds=1.0) is None
    assert windowed_choice(rows[:, 2], offsets, truth=2.05, radius_seconds=0.5) == 2.35
    assert windowed_choice(rows[:, 2], offsets, truth=9.0, radius_seconds=0.5) is None


def _stored(n_onsets: int) -> StoredAnalysis:
    return StoredAnalysis(np.zeros(4, np.float32), np.zeros((n_onsets, 5), np.float16),
                          np.zeros((n_onsets // 4, 12), np.float16), np.zeros((0, 1), np.float32))


def test_the_length_difference_is_the_trim_when_the_stem_keeps_the_end():
    x = AlignmentInputs(np.zeros((1, 2)), _stored(3000), np.zeros((1, 2)), _stored(2780))
    assert length_offset(x) == pytest.approx(2.2)


def _clicks(times: np.ndarray, seconds: float, hz: float) -> np.ndarray:
    """Decaying tone bursts of `hz` at `times` (s)."""
    wave = np.zeros(int(seconds * SR), np.float32)
    burst = (np.sin(2 * np.pi * hz * np.arange(int(0.08 * SR)) / SR) * np.exp(-np.arange(int(0.08 * SR)) / 300.0))
    for t in times:
        i = int(t * SR)
        wave[i : i + len(burst)] += burst[: len(wave) - i].astype(np.float32)
    return wave


def test_whole_song_preferences_find_a_part_played_late():
    rng = np.random.default_rng(3)
    times = np.sort(rng.uniform(0.5, 19.0, 60))
    # the second part plays every note of the first 0.2 s late: against the mix of the others, its
    # correlations peak where it is moved 0.2 s earlier, and the first part's where it is moved later
    song = Multitrack("s", {"a": ("bass", _clicks(times, 20.0, 110.0)),
                            "b": ("other", _clicks(times + 0.2, 20.0, 880.0))})
    prefs = whole_song_preferences(song, SR, radius_seconds=0.5)
    for term in ("full band", "same bands", "band pairs", "accents"):
        assert prefs["b"][term] == pytest.approx(-0.2, abs=0.03), term
        assert prefs["a"][term] == pytest.approx(0.2, abs=0.03), term
