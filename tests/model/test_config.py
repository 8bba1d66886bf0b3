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
    run = load_run_config("tiny", parse_override("train.lr=0.5"))
    assert run.model.encoder.dim == 64 and run.model.encoder.patch_size == 16
    assert run.train.lr == 0.5
    # PyYAML reads 5e-4 (no dot) as a string; a float field still takes it
    assert load_run_config("tiny", parse_override("train.lr=5e-4")).train.lr == 5e-4
    with pytest.raises(ConfigError, match="expected float"):
        load_run_config("tiny", parse_override("train.lr=fast"))


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


def test_model_sizes_resolve_by_name_from_package_data(tmp_path, monkeypatch):
    from model.config import CONFIG_DIR, config_path, named_configs

    monkeypatch.chdir(tmp_path)  # no repository around: names resolve inside the package
    assert {"tiny", "compact", "small", "base", "compact-nce"} <= set(named_configs())
    assert config_path("small") == CONFIG_DIR / "small.yaml"
    assert load_run_config("base").model.encoder.dim == 768 and load_run_config("compact").model.name == "compact"
    assert load_run_config("compact-nce").train.contrastive_weight == 1.0  # extends compact.yaml beside it
    with pytest.raises(ConfigError, match=r"named configs: .*tiny"):
        load_run_config("huge")


def test_pyproject_ships_the_named_configs_as_package_data():
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    # model/configs is found as a namespace package by `model*`, and "*.yaml" is data of every package
    assert any(pattern == "model*" for pattern in project["packages"]["find"]["include"])
    assert "*.yaml" in project["package-data"]["*"]
