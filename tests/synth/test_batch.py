"""Acceptance tests of corpus writing: sounding, equal-length stems that sum to the mixture; determinism; resume."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import synth.batch
from synth.batch import CorpusIncompleteError, CorpusMismatchError, song_name, write_corpus
from synth.song import SongSettings
from synth.stems import MIXTURE, STEMS
from tests.synth.conftest import needs_fluidsynth

pytestmark = needs_fluidsynth


def _read(song: Path, name: str) -> np.ndarray:
    audio, _ = sf.read(song / f"{name}.flac", dtype="float64", always_2d=True)
    return audio


@pytest.mark.parametrize("corpus", ["procedural_corpus", "mixed_corpus"])
def test_stems_sound_are_equally_long_and_sum_to_the_mixture(corpus: str, request: pytest.FixtureRequest) -> None:
    out: Path = request.getfixturevalue(corpus)
    songs = sorted(out.glob("song_*"))
    assert len(songs) >= 4
    for song in songs:
        metadata = json.loads((song / "metadata.json").read_text())
        stems = {s: _read(song, s) for s in STEMS}
        mixture = _read(song, MIXTURE)
        expected = round(metadata["duration"] * metadata["sample_rate"])
        assert {a.shape for a in stems.values()} == {(expected, 2)}
        for stem, audio in stems.items():
            assert np.sqrt(np.mean(audio**2)) > 1e-4, f"{song.name}/{stem} is silent"
        np.testing.assert_allclose(sum(stems.values()), mixture, atol=4 * 2.0**-23)
        assert np.abs(mixture).max() < 1.0
        assert set(metadata["stems"]) == set(STEMS)
        assert metadata["source"]


def test_same_seed_gives_identical_files(procedural_corpus: Path, tmp_path: Path) -> None:
    settings = SongSettings(duration=10.0, sample_rate=16000, sources={"procedural": 1.0})
    write_corpus(tmp_path, 2, 11, settings, workers=1)
    for index in range(2):
        for path in sorted((tmp_path / song_name(index)).iterdir()):
            assert path.read_bytes() == (procedural_corpus / song_name(index) / path.name).read_bytes(), path.name


def test_an_interrupted_run_resumes_without_redoing_finished_songs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = SongSettings(duration=2.0, sample_rate=8000, sources={"procedural": 1.0})
    real = synth.batch.make_song

    def crash_on_second(index: int, seed: int, s: SongSettings, folder: Path) -> object:
        if index == 1:
            (folder / "half.flac").write_bytes(b"partial")
            raise KeyboardInterrupt
        return real(index, seed, s, folder)

    monkeypatch.setattr(synth.batch, "make_song", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        write_corpus(tmp_path, 3, 0, settings)
    assert (tmp_path / song_name(0) / "metadata.json").is_file()
    assert not (tmp_path / song_name(1)).exists()
    first = (tmp_path / song_name(0) / "mixture.flac").stat().st_mtime_ns

    monkeypatch.setattr(synth.batch, "make_song", real)
    written = write_corpus(tmp_path, 3, 0, settings)
    assert written == [1, 2]
    assert (tmp_path / song_name(0) / "mixture.flac").stat().st_mtime_ns == first
    assert not list(tmp_path.glob(".tmp-*"))


def test_a_failing_song_costs_only_itself_and_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = SongSettings(duration=2.0, sample_rate=8000, sources={"procedural": 1.0})
    real = synth.batch.make_song

    def fail_on_first(index: int, seed: int, s: SongSettings, folder: Path) -> object:
        if index == 0:
            (folder / "half.flac").write_bytes(b"partial")
            raise ValueError("max() arg is an empty sequence")
        return real(index, seed, s, folder)

    monkeypatch.setattr(synth.batch, "make_song", fail_on_first)
    with pytest.raises(CorpusIncompleteError, match="song_00000: ValueError: max") as failed:
        write_corpus(tmp_path, 3, 0, settings, workers=1)
    assert failed.value.written == 2 and len(failed.value.failures) == 1
    assert not (tmp_path / song_name(0)).exists() and not list(tmp_path.glob(".tmp-*"))
    assert all((tmp_path / song_name(i) / "metadata.json").is_file() for i in (1, 2))

    monkeypatch.setattr(synth.batch, "make_song", real)
    assert write_corpus(tmp_path, 3, 0, settings) == [0]  # a re-run tries the failed song only


def test_resuming_with_other_settings_is_refused(tmp_path: Path) -> None:
    write_corpus(tmp_path, 0, 0, SongSettings(duration=2.0, sample_rate=8000))
    with pytest.raises(CorpusMismatchError):
        write_corpus(tmp_path, 0, 1, SongSettings(duration=2.0, sample_rate=8000))
