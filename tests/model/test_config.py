import pytest

from model.config import load_run_config, parse_override
from model.errors import ConfigError
from model.instruments import InstrumentVocabulary
from tests.conftest import REPO


def test_unknown_keys_are_rejected(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model:\n  encoder: {dimm: 3}\n")
    with pytest.raises(ConfigError, match="dimm"):
        load_run_config(path)


def test_configs_extend_base_and_accept_overrides():
    run = load_run_config(REPO / "configs/train/tiny.yaml", parse_override("train.lr=0.5"))
    assert run.model.encoder.dim == 64 and run.model.encoder.patch_size == 16
    assert run.train.lr == 0.5
    # PyYAML reads 5e-4 (no dot) as a string; a float field still takes it
    assert load_run_config(REPO / "configs/train/tiny.yaml", parse_override("train.lr=5e-4")).train.lr == 5e-4
    with pytest.raises(ConfigError, match="expected float"):
        load_run_config(REPO / "configs/train/tiny.yaml", parse_override("train.lr=fast"))


@pytest.mark.parametrize("name, expected", [
    ("vocals.wav", "vocals"), ("Lead Vocal.flac", "vocals"), ("vox_02.wav", "vocals"), ("lead_vocal.mp3", "vocals"),
    ("bass.wav", "bass"), ("synth_bass.wav", "bass"), ("Synth Bass DI.wav", "bass"), ("violins.mp3", "other"),
    ("synth.mp3", "other"), ("drums.mp3", "drums"), ("mixture.wav", None), ("clicktrack.wav", None)])
def test_synonym_table(name, expected):
    assert InstrumentVocabulary().resolve(name) == expected


def test_vocabulary_comes_from_data():
    vocab = InstrumentVocabulary.from_dict({"names": ["bass", "drums", "vocals", "guitar", "keys"],
                                            "synonyms": {"gtr": "guitar", "piano": "keys"}})
    assert vocab.resolve("gtr_left.wav") == "guitar" and vocab.index("keys") == 4
