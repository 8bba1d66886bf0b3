"""Fixtures for the synth tests: small rendered corpora shared by the acceptance tests."""

import shutil
from pathlib import Path

import pytest

from synth.batch import write_corpus
from synth.song import SongSettings

SAMPLE_RATE = 16000
DURATION = 10.0

needs_fluidsynth = pytest.mark.skipif(
    shutil.which("fluidsynth") is None or not Path("/usr/share/sounds/sf2/FluidR3_GM.sf2").is_file(),
    reason="needs the fluidsynth binary and fluid-soundfont-gm (Debian packages fluidsynth, fluid-soundfont-gm)",
)


@pytest.fixture(scope="session")
def procedural_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six composed songs of 10 s at 16 kHz, whose metadata states key and tempo exactly."""
    if shutil.which("fluidsynth") is None:
        pytest.skip("needs the fluidsynth binary (Debian package fluidsynth)")
    out = tmp_path_factory.mktemp("procedural")
    settings = SongSettings(duration=DURATION, sample_rate=SAMPLE_RATE, sources={"procedural": 1.0})
    write_corpus(out, 6, 11, settings, workers=2)
    return out


@pytest.fixture(scope="session")
def mixed_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four songs drawn from every source (composed, MMA, real MIDI), as the command line makes them."""
    if shutil.which("fluidsynth") is None:
        pytest.skip("needs the fluidsynth binary (Debian package fluidsynth)")
    out = tmp_path_factory.mktemp("mixed")
    settings = SongSettings(duration=6.0, sample_rate=SAMPLE_RATE, sources={"procedural": 1, "mma": 1, "midi": 2})
    write_corpus(out, 4, 3, settings, workers=2)
    return out
