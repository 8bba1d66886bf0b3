"""Alembic environment: runs the revisions against the URL that `indexer.db.upgrade` (or STEMJEPA_DB_URL) gives."""

import os

from alembic import context

from indexer.db import Base, make_engine

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("STEMJEPA_DB_URL")
    if not url:
        raise RuntimeError("no database URL: call indexer.db.upgrade(url) or set STEMJEPA_DB_URL")
    return url


def run_offline() -> None:
    url = _url()
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    url = _url()
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            # SQLite cannot ALTER most things in place; batch mode rebuilds tables instead.
            context.configure(connection=connection, target_metadata=target_metadata,
                              render_as_batch=url.startswith("sqlite"))
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
