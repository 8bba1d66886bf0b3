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


def test_storage_fields_are_shared_with_one_device_type(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from indexer.settings import IndexerSettings, StorageSettings
    from service.settings import ServiceSettings
    from service.settings import load_settings as service_settings

    shared = set(StorageSettings.model_fields)
    assert shared == {"index_dir", "db_url", "checkpoint", "device", "threads"}
    for cls in (IndexerSettings, ServiceSettings):
        assert issubclass(cls, StorageSettings)
        assert all(cls.model_fields[n].annotation == StorageSettings.model_fields[n].annotation for n in shared)
    monkeypatch.setenv("STEMJEPA_CHECKPOINT", "")
    service = service_settings(index_dir=tmp_path / "ix", device="cuda:1", db_url="")
    indexer = IndexerSettings.over(service, workers=0)
    assert (indexer.index_dir, indexer.device, indexer.checkpoint) == (tmp_path / "ix", "cuda:1", None)
    assert indexer.workers == 0
    assert indexer.database_url == service.database_url
    with pytest.raises(ValidationError):
        load_settings(device="gpu")
