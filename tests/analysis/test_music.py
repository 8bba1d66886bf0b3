"""analyse: the musical facts of generated songs, the stored form and its facts, and the downbeat."""

import numpy as np
import pytest

from analysis.beats import find_downbeats, track_beats
from analysis.music import FEATURES, StoredAnalysis, analyse, facts_of
from analysis.signature import ONSET_HOP_SECONDS
from tests.analysis.music import SR, song


@pytest.mark.parametrize(("bpm", "tonic", "meter"), [(96.0, 2, 4), (120.0, 9, 4), (132.0, 5, 3)])
def test_analyse_finds_tempo_key_meter_and_downbeats(bpm: float, tonic: int, meter: int) -> None:
    a = analyse(song(bpm, tonic, seconds=16.0, beats_per_bar=meter), SR)
    assert a.bpm == pytest.approx(bpm, rel=0.01) and a.key.key == (tonic, "major")
    grid = a.grid
    beat = 60.0 / bpm
    assert grid.period == pytest.approx(beat, rel=0.02)
    phase = np.abs((grid.beats / beat + 0.5) % 1 - 0.5) * beat
    assert np.median(phase) < 0.03  # beats sit on the kicks
    assert grid.beats_per_bar == meter
    bar = meter * beat
    assert min(grid.first_downbeat % bar, bar - grid.first_downbeat % bar) < 0.05  # bars start on the loud kick
    assert a.duration_seconds == pytest.approx(16.0) and -40 < a.loudness_dbfs < 0


def test_stored_form_round_trips_to_the_facts_and_signature() -> None:
    a = analyse(song(110.0, 4), SR)
    stored = a.stored()
    assert stored.features.shape == (FEATURES.width,) and stored.onsets.dtype == np.float16
    facts = stored.facts()
    assert facts["bpm"] == pytest.approx(a.bpm, abs=0.01) and facts["key"] == "E major"
    assert facts["camelot"] == "12B" and facts["beats_per_bar"] == a.grid.beats_per_bar
    sig = stored.signature()
    np.testing.assert_allclose(sig.bands, a.signature.bands, atol=5e-3)
    np.testing.assert_allclose(sig.accents, a.signature.accents, atol=5e-3)
    rebuilt = StoredAnalysis(stored.features, stored.onsets, stored.chroma, stored.beats)
    assert rebuilt.facts() == facts


def test_silence_and_very_short_audio_have_empty_facts() -> None:
    for wave in (np.zeros(SR, np.float32), np.zeros(100, np.float32)):
        facts = facts_of(analyse(wave, SR).vector())
        assert facts["bpm"] == 0.0 and facts["key"] is None and facts["loudness_dbfs"] == -120.0


def test_too_few_beats_give_a_plain_grid() -> None:
    grid = find_downbeats(np.array([0.5, 1.0]), np.zeros(200), ONSET_HOP_SECONDS, np.zeros((50, 12)), 0.04)
    assert (grid.beats_per_bar, grid.downbeat, grid.confidence) == (4, 0, 0.0)
    assert len(track_beats(np.zeros(100), ONSET_HOP_SECONDS, 0.0)) == 0
