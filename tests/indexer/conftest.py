"""Indexer fixtures: databases (SQLite always, PostgreSQL when STEMJEPA_TEST_POSTGRES_URL is set), migrated
from empty by Alembic; small generated catalogues; a tiny seeded Embedder; settings in tmp_path."""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from indexer.db import upgrade
from indexer.settings import IndexerSettings, load_settings
from tests.conftest import write_song

PG_ENV = "STEMJEPA_TEST_POSTGRES_URL"


def _postgres_db() -> Iterator[str]:
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (make test / scripts/with-postgres.sh sets it)")
    name = f"stemjepa_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, SQLite or PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'catalogue.sqlite'}"
    else:
        yield from _postgres_db()


@pytest.fixture
def db_url(empty_db_url: str) -> str:
    """A database migrated from empty to head."""
    upgrade(empty_db_url)
    return empty_db_url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'catalogue.sqlite'}"
    upgrade(url)
    return url


@pytest.fixture
def catalogue(tmp_path: Path) -> Path:
    """Three generated songs of 2 s, one folder each, four wav stems each (12 stems)."""
    rng = np.random.default_rng(0)
    root = tmp_path / "catalogue"
    for i in range(3):
        write_song(root / f"Artist {i} - Song {i}", rng, seconds=2.0)
    return root


@pytest.fixture
def embedder(tiny_checkpoint: Path):
    from model.embed import Embedder

    return Embedder.from_checkpoint(tiny_checkpoint, device="cpu", batch_size=8)


def make_settings(tmp_path: Path, db_url: str, **kw: object) -> IndexerSettings:
    base: dict[str, object] = {"db_url": db_url, "index_dir": tmp_path / "index", "device": "cpu", "workers": 0,
                               "batch_size": 4, "commit_stems": 4}
    return load_settings(**{**base, **kw})
