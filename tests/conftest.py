"""Shared fixtures: generated multitrack songs, tiny seeded models and the path to ../shared/data."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
MUSDB_TRAIN = SHARED_DATA / "musdb18-7" / "train"
MUSDB_VALID = SHARED_DATA / "musdb18-7" / "valid"
TRACKSWITCH = SHARED_DATA / "extra" / "trackswitch-demo"


def require(path: Path) -> Path:
    """Skips the calling test, with the reason, when shared real data is absent."""
    if not path.exists():
        pytest.skip(f"real data not found at {path} (the shared data folder beside the repository)")
    return path


def synth_stems(rng: np.random.Generator, seconds: float, sr: int = 16_000) -> dict[str, np.ndarray]:
    """Four simple, musically related stems: a bass line, a drum pattern, chord tones, a vibrato voice."""
    t = np.arange(int(seconds * sr)) / sr
    root = 55.0 * 2 ** (rng.integers(0, 12) / 12)
    bpm = float(rng.uniform(80, 140))
    beat = 60.0 / bpm
    beat_phase = (t % beat) / beat
    env = np.exp(-6 * beat_phase)
    bass = 0.3 * np.sin(2 * np.pi * root * t) * env
    kick = np.sin(2 * np.pi * 60 * t) * np.exp(-30 * beat_phase)
    hat = rng.standard_normal(len(t)) * np.exp(-60 * ((t % (beat / 2)) / (beat / 2))) * 0.1
    drums = 0.4 * kick + hat
    chord = sum(np.sin(2 * np.pi * root * 4 * r * t) for r in (1.0, 1.26, 1.5)) * 0.08
    other = chord * (0.6 + 0.4 * np.sin(2 * np.pi * t / (4 * beat)))
    f0 = root * 8 * (1 + 0.01 * np.sin(2 * np.pi * 5 * t))
    vocals = 0.15 * np.sin(2 * np.pi * np.cumsum(f0) / sr) * (np.sin(2 * np.pi * t / (2 * beat)) > -0.3)
    return {k: v.astype(np.float32) for k, v in
            {"bass": bass, "drums": drums, "other": other, "vocals": vocals}.items()}


def write_song(folder: Path, rng: np.random.Generator, seconds: float = 10.0, sr: int = 16_000) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    stems = synth_stems(rng, seconds, sr)
    for name, wave in stems.items():
        sf.write(folder / f"{name}.wav", wave, sr)
    return folder


@pytest.fixture
def multitrack_dir(tmp_path: Path) -> Path:
    """Six generated songs of 10 s, one folder each, one wav per stem."""
    rng = np.random.default_rng(0)
    root = tmp_path / "songs"
    for i in range(6):
        write_song(root / f"song{i}", rng)
    return root


@pytest.fixture
def tiny_run():
    from model.config import load_run_config

    return load_run_config("tiny")


@pytest.fixture
def tiny_model(tiny_run):
    from model.jepa import StemJEPA

    torch.manual_seed(0)
    return StemJEPA(tiny_run.model)


@pytest.fixture
def tiny_checkpoint(tmp_path: Path, tiny_run, tiny_model) -> Path:
    from model.checkpoint import save_checkpoint

    path = tmp_path / "tiny.pt"
    save_checkpoint(path, tiny_model, tiny_run, step=0)
    return path


SIBLING_ARGS = ("--siblings", "2", "--groups", "2", "--variants", "1", "--duration", "8", "--sample-rate", "16000",
                "--seed", "21", "--workers", "2")


@pytest.fixture(scope="session")
def sibling_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 groups x (2 siblings + 1 transposed variant) x 8 s at 16 kHz, rendered once by `stemjepa synth --siblings`."""
    import shutil

    from typer.testing import CliRunner

    from stemjepa.cli import app

    if shutil.which("fluidsynth") is None or not Path("/usr/share/sounds/sf2/FluidR3_GM.sf2").is_file():
        pytest.skip("needs the fluidsynth binary and fluid-soundfont-gm (Debian packages of the same names)")
    out = tmp_path_factory.mktemp("siblings") / "corpus"
    result = CliRunner().invoke(app, ["synth", str(out), *SIBLING_ARGS])
    assert result.exit_code == 0, result.output
    return out
