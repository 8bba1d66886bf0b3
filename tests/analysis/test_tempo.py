"""Tempo: the estimate of generated songs, octave-tolerant ratios, the folded tempogram and beat periods."""

import numpy as np
import pytest

from analysis.signature import ONSET_HOP_SECONDS, onset_envelope
from analysis.tempo import FOLD_BINS, beat_seconds, estimate_tempo, tempo_ratio
from tests.analysis.music import SR, song


@pytest.mark.parametrize("bpm", [91.0, 97.0, 123.0, 150.0])
def test_tempo_of_a_steady_song_is_found_within_one_percent(bpm: float) -> None:
    got = estimate_tempo(onset_envelope(song(bpm, tonic=2), SR), ONSET_HOP_SECONDS)
    assert got.bpm == pytest.approx(bpm, rel=0.01)
    assert got.beat_seconds == pytest.approx(60 / bpm, rel=0.01) and 0 < got.confidence <= 1


def test_silence_has_no_tempo() -> None:
    got = estimate_tempo(np.zeros(1000), ONSET_HOP_SECONDS)
    assert got.bpm == 0.0 and got.confidence == 0.0 and not got.folded.any()


def test_folded_tempograms_of_double_tempo_agree_and_other_tempi_do_not() -> None:
    def folded(bpm: float) -> np.ndarray:
        return estimate_tempo(onset_envelope(song(bpm, tonic=0), SR), ONSET_HOP_SECONDS).folded

    a, double, other = folded(80.0), folded(160.0), folded(113.0)
    assert a.shape == (FOLD_BINS,) and np.linalg.norm(a) == pytest.approx(1.0, abs=1e-5)
    assert float(a @ double) > float(a @ other) + 0.2


def test_tempo_ratio_allows_metrical_factors_and_picks_the_smallest_stretch() -> None:
    ratio, factor = tempo_ratio(np.array([120.0, 120.0, 120.0, 90.0]), np.array([60.0, 124.0, 0.0, 100.0]))
    np.testing.assert_allclose(ratio, [1.0, 120 / 124, 1.0, 0.9])
    np.testing.assert_allclose(factor, [0.5, 1.0, 0.0, 1.0])
    ratio, factor = tempo_ratio(100.0, 290.0)
    assert factor[0] == 3.0 and ratio[0] == pytest.approx(300 / 290)


def test_beat_period_of_a_steady_song() -> None:
    assert beat_seconds(song(100.0, tonic=5), SR) == pytest.approx(0.6, abs=0.011)


def test_a_slow_song_with_eighth_note_hats_may_read_in_double_time_but_not_elsewhere() -> None:
    got = estimate_tempo(onset_envelope(song(72.0, tonic=2), SR), ONSET_HOP_SECONDS)
    assert min(abs(got.bpm / f - 72.0) for f in (1, 2)) < 0.72
