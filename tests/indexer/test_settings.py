"""Settings: environment variables with the STEMJEPA_ prefix, explicit overrides on top, a SQLite default."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from indexer.settings import load_settings


def test_environment_then_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STEMJEPA_INDEX_DIR", str(tmp_path / "ix"))
    monkeypatch.setenv("STEMJEPA_BATCH_SIZE", "3")
    s = load_settings(batch_size=5, workers=None)
    assert s.index_dir == tmp_path / "ix" and s.batch_size == 5 and s.workers == 2
    assert s.database_url == f"sqlite:///{(tmp_path / 'catalogue.sqlite').resolve()}"
    with pytest.raises(ValidationError):
        load_settings(ivf_factory="Flat")
