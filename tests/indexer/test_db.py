"""Migrations: applied from empty on SQLite and PostgreSQL, they match the models and go back down."""

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from indexer.db import Base, alembic_config, make_engine, require_schema, upgrade


def test_migrations_from_empty_match_the_models(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    try:
        require_schema(engine)
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    finally:
        engine.dispose()


def test_migrations_downgrade_to_base_and_up_again(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    command.downgrade(alembic_config(empty_db_url), "base")
    engine = make_engine(empty_db_url)
    try:
        assert "stems" not in inspect(engine).get_table_names()
        upgrade(empty_db_url)
        require_schema(engine)
    finally:
        engine.dispose()
