"""Stem audio files: served only when the record's file resolves inside its indexed root and the catalogue
folder; a link leading out, a missing file or an undecodable stream is a 404 that names only the stem."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from service.errors import ServiceError
from service.stemaudio import StemAudio


def _record(path: Path, source: Path, stream: int | None = None, stem_id: int = 7) -> SimpleNamespace:
    return SimpleNamespace(id=stem_id, path=str(path), stream=stream, source=str(source))


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path]:
    catalogue = tmp_path / "catalogue"
    (catalogue / "song").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    wave = np.zeros(1600, dtype=np.float32)
    sf.write(catalogue / "song" / "bass.wav", wave, 16_000)
    sf.write(outside / "secret.wav", wave, 16_000)
    return catalogue, outside


def test_a_file_inside_the_catalogue_is_served(tmp_path: Path, roots: tuple[Path, Path]) -> None:
    catalogue, _ = roots
    (catalogue / "song" / "alias.wav").symlink_to(catalogue / "song" / "bass.wav")  # a link that stays inside
    audio = StemAudio(tmp_path / "cache", catalogue)
    path, media = audio.file_for(_record(catalogue / "song" / "alias.wav", catalogue))
    assert path == (catalogue / "song" / "bass.wav").resolve() and media == "audio/wav"


@pytest.mark.parametrize("how", ["symlink", "climbing", "absolute", "outside the configured folder"])
def test_a_file_resolving_outside_the_catalogue_is_a_404_naming_only_the_stem(tmp_path: Path, how: str,
                                                                               roots: tuple[Path, Path]) -> None:
    catalogue, outside = roots
    source = catalogue
    if how == "symlink":  # a row indexed before the indexer refused links leading out, or a link changed since
        path = catalogue / "song" / "vocals.wav"
        path.symlink_to(outside / "secret.wav")
    elif how == "climbing":
        path = catalogue / "song" / ".." / ".." / "outside" / "secret.wav"
    elif how == "absolute":
        path = outside / "secret.wav"
    else:  # indexed from a folder beside STEMJEPA_CATALOGUE_DIR
        path, source = outside / "secret.wav", outside
    audio = StemAudio(tmp_path / "cache", catalogue)
    with pytest.raises(ServiceError) as caught:
        audio.file_for(_record(path, source))
    assert caught.value.status == 404 and caught.value.message == "the audio of stem 7 is not available"


def test_without_a_catalogue_folder_the_indexed_root_still_confines(tmp_path: Path, roots: tuple[Path, Path]) -> None:
    catalogue, outside = roots
    audio = StemAudio(tmp_path / "cache")
    assert audio.file_for(_record(catalogue / "song" / "bass.wav", catalogue))[1] == "audio/wav"
    manifest = catalogue / "manifest.csv"
    manifest.write_text("path\nsong/bass.wav\n")
    assert audio.file_for(_record(catalogue / "song" / "bass.wav", manifest))[1] == "audio/wav"  # a manifest's folder
    with pytest.raises(ServiceError):
        audio.file_for(_record(outside / "secret.wav", catalogue))


def test_a_missing_file_or_an_undecodable_stream_is_a_404(tmp_path: Path, roots: tuple[Path, Path]) -> None:
    catalogue, _ = roots
    audio = StemAudio(tmp_path / "cache", catalogue)
    with pytest.raises(ServiceError) as gone:
        audio.file_for(_record(catalogue / "song" / "drums.wav", catalogue))
    broken = catalogue / "song" / "mix.stem.mp4"
    broken.write_bytes(b"not a container")
    with pytest.raises(ServiceError) as undecodable:
        audio.file_for(_record(broken, catalogue, stream=1))
    assert gone.value.status == undecodable.value.status == 404
    assert str(tmp_path) not in gone.value.message + undecodable.value.message
