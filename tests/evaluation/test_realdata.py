"""Evaluation on MUSDB18 previews (../shared/data): decoding .stem.mp4 once per song and a short run.
Evaluation only: nothing is trained or tuned on `valid`."""

import pytest

from evaluation.retrieval import evaluate_retrieval
from evaluation.songs import load_songs
from tests.conftest import MUSDB_VALID, require

pytestmark = pytest.mark.realdata


def test_musdb_valid_songs_decode_to_four_aligned_stems():
    songs = load_songs(require(MUSDB_VALID), limit=2)
    assert len(songs) == 2
    for song in songs:
        assert sorted(song.stems) == ["bass", "drums", "other", "vocals"]
        lengths = {len(w) for w in song.stems.values()}
        assert len(lengths) == 1 and 6.0 * 16_000 < lengths.pop() < 7.5 * 16_000


def test_retrieval_on_three_musdb_songs(tiny_checkpoint):
    songs = load_songs(require(MUSDB_VALID), limit=3)
    report = evaluate_retrieval(songs, [tiny_checkpoint], device="cpu", n_boot=50)
    assert report["songs"] == 3 and report["queries"] >= 9
    assert set(report["systems"]) >= {"random", "mashability (AutoMashupper-style)"}
