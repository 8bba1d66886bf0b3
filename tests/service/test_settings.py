"""Settings come from STEMJEPA_* variables, lists from comma-separated values, and are checked."""

import pytest
from pydantic import ValidationError

from service.settings import load_settings


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEMJEPA_API_KEYS", "a, b ,c")
    monkeypatch.setenv("STEMJEPA_CORS_ORIGINS", "http://localhost:3000")
    monkeypatch.setenv("STEMJEPA_MAX_K", "50")
    monkeypatch.setenv("STEMJEPA_CHECKPOINT", "")
    monkeypatch.setenv("STEMJEPA_INDEX_DIR", "/srv/index")
    s = load_settings()
    assert s.api_keys == ["a", "b", "c"] and s.cors_origins == ["http://localhost:3000"]
    assert s.max_k == 50 and s.checkpoint is None
    assert s.database_url == "sqlite:////srv/catalogue.sqlite"  # the indexer's default, beside the index dir
    assert load_settings(db_url="postgresql+psycopg://u@h/db").database_url == "postgresql+psycopg://u@h/db"


def test_inconsistent_limits_are_refused() -> None:
    with pytest.raises(ValidationError):
        load_settings(default_k=20, max_k=10)
    with pytest.raises(ValidationError):
        load_settings(max_upload_bytes=0)


def test_every_setting_is_documented() -> None:
    from service.settings import ServiceSettings

    assert all(field.description for field in ServiceSettings.model_fields.values())


def test_readme_settings_table_matches_the_settings() -> None:
    """The README's table is service.settings.settings_table(): regenerate it when a setting changes."""
    from service.settings import settings_table
    from tests.conftest import REPO

    assert settings_table() in (REPO / "README.md").read_text()
