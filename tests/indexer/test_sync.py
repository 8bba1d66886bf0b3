"""Sync stage: discovery into SQL rows, unresolved names reported, unchanged files not re-queued."""

import os
from pathlib import Path

from sqlalchemy import select

from indexer.db import Stem, StemStatus, make_engine, session_factory
from indexer.decode import content_sha256
from indexer.sync import sync_catalogue
from model.instruments import InstrumentVocabulary


def test_sync_inserts_pending_rows_reports_unresolved_and_is_idempotent(sqlite_url: str, catalogue: Path) -> None:
    (catalogue / "Artist 0 - Song 0" / "theremin.wav").write_bytes(b"x")
    engine = make_engine(sqlite_url)
    sessions = session_factory(engine)
    first = sync_catalogue(sessions, catalogue, InstrumentVocabulary())
    assert (first.songs, first.stems, first.new) == (3, 12, 12)
    assert [Path(p).name for p, _ in first.unresolved] == ["theremin.wav"]
    second = sync_catalogue(sessions, catalogue, InstrumentVocabulary())
    assert (second.new, second.unchanged) == (0, 12)
    # touched but identical content: the hash says unchanged
    bass = catalogue / "Artist 0 - Song 0" / "bass.wav"
    with sessions() as s, s.begin():
        row = s.scalars(select(Stem).where(Stem.path == str(bass.resolve()))).one()
        row.content_sha256 = content_sha256(bass, None)
    os.utime(bass, ns=(1, 1))
    third = sync_catalogue(sessions, catalogue, InstrumentVocabulary())
    assert (third.new, third.changed, third.unchanged) == (0, 0, 12)
    with sessions() as s:
        assert {r.status for r in s.scalars(select(Stem))} == {StemStatus.PENDING}
    engine.dispose()
