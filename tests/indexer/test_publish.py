"""Crash recovery: a kill between chunk and SQL commit rolls forward; 'indexed' rows without vectors roll back."""

import contextlib
from pathlib import Path

from sqlalchemy import select, update

from indexer.build import build_index
from indexer.chunks import list_chunks
from indexer.db import Stem, StemStatus, make_engine, session_factory
from indexer.publish import reconcile
from indexer.writer import Writer
from tests.indexer.conftest import make_settings
from tests.indexer.test_build import assert_consistent


def test_chunk_written_but_sql_not_committed_is_rolled_forward(tmp_path: Path, sqlite_url: str, catalogue: Path,
                                                               embedder, monkeypatch) -> None:
    settings = make_settings(tmp_path, sqlite_url)
    commits = {"n": 0}
    real_commit = Writer.commit

    def crash_after_chunk(self: Writer) -> None:
        commits["n"] += 1
        if commits["n"] == 2:  # the second batch's chunk is durable, then the process "dies"
            import indexer.writer as w

            monkeypatch.setattr(w, "update", _boom)
        real_commit(self)

    monkeypatch.setattr(Writer, "commit", crash_after_chunk)
    with contextlib.suppress(RuntimeError):
        build_index(catalogue, settings, embedder)
    monkeypatch.undo()
    assert len(list_chunks(settings.index_dir)) == 2
    engine = make_engine(sqlite_url)
    sessions = session_factory(engine)
    with sessions() as s:
        assert len(s.scalars(select(Stem.id).where(Stem.status == StemStatus.INDEXED)).all()) == 4
    assert reconcile(sessions, settings.index_dir, None, embedder.checkpoint_hash) == (4, 0)
    engine.dispose()
    report = build_index(catalogue, settings, embedder)
    assert report.added == 4  # 8 were durable already; only the rest is embedded
    assert_consistent(sqlite_url, settings.index_dir, 12).close()


def _boom(*_a: object, **_k: object) -> None:
    raise RuntimeError("killed")


def test_indexed_rows_without_a_durable_vector_are_requeued(tmp_path: Path, sqlite_url: str, catalogue: Path,
                                                            embedder) -> None:
    settings = make_settings(tmp_path, sqlite_url)
    build_index(catalogue, settings, embedder)
    engine = make_engine(sqlite_url)
    with session_factory(engine)() as s, s.begin():
        s.execute(update(Stem).where(Stem.id == 1).values(status=StemStatus.PENDING))
    engine.dispose()
    # a stem the database calls indexed but no file holds: lost index files
    for path in settings.index_dir.glob("*"):
        if path.is_file():
            path.unlink()
    report = build_index(catalogue, settings, embedder)
    assert report.added == 12
    assert_consistent(sqlite_url, settings.index_dir, 12).close()
