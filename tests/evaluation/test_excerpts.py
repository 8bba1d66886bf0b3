"""The long-excerpt protocol: per-file stems, seeded windows and cuts inside a span, prepared inputs that
round-trip through a cache, and the within-tolerance counts per instrument."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from evaluation.excerpts import (
    Excerpt,
    group_of,
    load_cases,
    load_multitracks,
    model_offset,
    plan_excerpts,
    prepare_inputs,
    save_cases,
    score,
    table,
)
from evaluation.placement import fused_offsets, placed_offsets
from model.embed import Embedder
from tests.conftest import synth_stems

SR = 16_000


@pytest.fixture
def long_song(tmp_path: Path) -> Path:
    """One 20 s song whose two `other` files stay apart, plus a stem silent throughout."""
    folder = tmp_path / "songs" / "long"
    folder.mkdir(parents=True)
    stems = synth_stems(np.random.default_rng(3), 20.0)
    for name, wave in {"bass": stems["bass"], "drums": stems["drums"], "synth": stems["other"],
                       "violins": stems["vocals"], "piano": np.zeros_like(stems["bass"])}.items():
        sf.write(folder / f"{name}.wav", wave, SR)
    return tmp_path / "songs"


def test_every_file_is_its_own_stem_with_its_class(long_song):
    (song,) = load_multitracks(long_song, SR)
    assert {name: inst for name, (inst, _) in song.stems.items()} == {
        "bass": "bass", "drums": "drums", "synth": "other", "violins": "other", "piano": "other"}
    assert song.seconds == 20 * SR
    assert np.allclose(song.mix("bass"), sum(w for n, (_, w) in song.stems.items() if n != "bass"))


def test_windows_and_cuts_are_seeded_and_inside_the_span(long_song):
    songs = load_multitracks(long_song, SR)
    plan = plan_excerpts(songs, SR, 8.0, 3, 2, 4.0, seed=7, beat_seconds=lambda _: 0.5, span=(0.0, 12.0),
                         max_end_cut=1.0)
    assert plan == plan_excerpts(songs, SR, 8.0, 3, 2, 4.0, seed=7, beat_seconds=lambda _: 0.5, span=(0.0, 12.0),
                                 max_end_cut=1.0)
    assert len(plan) == 3 * 4 * 2  # the silent piano is never queried
    assert all(e.window_start >= 0.0 and e.window_start + e.window_seconds <= 12.0 for e in plan)
    assert all(0.0 <= e.cut <= 4.0 and 0.0 <= e.end_cut <= 1.0 for e in plan)
    whole = plan_excerpts(songs, SR, 30.0, 3, 1, 4.0, seed=7, beat_seconds=lambda _: 0.5)
    assert {(e.window_start, e.window_seconds) for e in whole} == {(0.0, 20.0)}  # shorter than a window: all of it


def test_scores_count_each_tolerance_the_beat_and_the_runner_ups():
    ex = [Excerpt("s", "bass", "bass", 0.0, 30.0, cut, 0.5) for cut in (1.0, 1.0, 1.0, 1.0)]
    found = [[1.01], [1.1], [1.5, 0.95], []]
    s = score(ex, found)
    assert s.cases == 4 and s.within == (1, 1, 2)
    assert s.on_beat == 2  # 1.01 and 1.5 are within 80 ms of a whole number of beats, 1.1 is not
    assert s.any_offset == 3
    assert group_of(Excerpt("s", "bass_drums", "bass", 0.0, 30.0, 1.0, 0.5), ("bass_drums",)) == "bass_drums"
    text = table(ex, {"m": found})
    assert "| m | all | 4 | 25.0 | 25.0 | 50.0 | 50.0 | 75.0 |" in text and "| m | bass |" in text


def test_prepared_cases_round_trip_through_the_cache_and_every_method_answers(long_song, tiny_checkpoint, tmp_path):
    embedder = Embedder.from_checkpoint(tiny_checkpoint, device="cpu")
    songs = load_multitracks(long_song, SR, embedder.vocabulary)
    plan = plan_excerpts(songs, SR, 12.0, 1, 1, 2.0, seed=1, beat_seconds=lambda _: 0.5)[:2]
    inputs = prepare_inputs(embedder, songs, plan)
    stem_seconds = 12.0 - plan[0].cut - plan[0].end_cut
    assert len(inputs[0].stem.onsets) == pytest.approx(stem_seconds / 0.01, abs=2)
    assert inputs[0].stem.onsets.dtype == np.float16 and inputs[0].stem_frames.dtype == np.float16  # as stored
    save_cases(tmp_path / "cases.npz", plan, inputs)
    again, loaded = load_cases(tmp_path / "cases.npz")
    assert again == plan
    assert np.array_equal(loaded[1].query.chroma, inputs[1].query.chroma)
    for method in (model_offset, fused_offsets, placed_offsets):
        offsets = method(loaded[0], plan[0].instrument, embedder.frame_seconds)
        assert 1 <= len(offsets) <= 3 and all(np.isfinite(offsets))
