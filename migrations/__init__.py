"""Alembic revisions over the indexer's SQL metadata (`indexer.db`); applied by `stemjepa db upgrade`."""
