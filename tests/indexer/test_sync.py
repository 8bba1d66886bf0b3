"""Sync stage: discovery into SQL rows, unresolved names reported, unchanged files not re-queued; overlapping
sources add only what is new (SQLite and PostgreSQL); nothing outside the catalogue root is indexed."""

import os
from pathlib import Path

from sqlalchemy import select

from indexer.db import Stem, StemStatus, make_engine, session_factory
from indexer.decode import content_sha256
from indexer.sync import OUTSIDE, sync_catalogue
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


def test_overlapping_sources_index_only_what_is_new(tmp_path: Path, db_url: str, catalogue: Path, embedder) -> None:
    import shutil

    from indexer.build import build_index
    from tests.indexer.conftest import make_settings
    from tests.indexer.test_build import assert_consistent

    settings = make_settings(tmp_path, db_url)
    inner = catalogue / "Artist 0 - Song 0"
    assert build_index(inner, settings, embedder).added == 4  # one song folder first
    shutil.copy(inner / "bass.wav", inner / "synth_bass.wav")  # a new stem of that song
    parent = build_index(catalogue, settings, embedder)  # then all of it: overlapping, and the README's default
    assert (parent.added, parent.failed, parent.indexed_total) == (9, 0, 13)
    again = build_index(inner, settings, embedder)  # and the inner folder once more: nothing new
    assert (again.added, again.indexed_total) == (0, 13)
    (catalogue / "manifest.jsonl").write_text(  # a manifest over files indexed already, one of them twice
        '{"path": "Artist 1 - Song 1/bass.wav", "song": "x"}\n{"path": "Artist 1 - Song 1/bass.wav", "song": "y"}\n')
    listed = build_index(catalogue / "manifest.jsonl", settings, embedder)
    assert (listed.added, listed.failed, listed.indexed_total) == (0, 0, 13)
    assert [reason for _, reason in listed.unresolved] == ["listed twice in the catalogue: indexed once"]
    cat = assert_consistent(db_url, settings.index_dir, 13)
    songs, total = cat.songs()
    assert total == 3 and sorted(s.stem_count for s in songs) == [4, 4, 5]  # the new stem joined its song
    cat.close()
    engine = make_engine(db_url)
    with session_factory(engine)() as s:
        keys = s.scalars(select(Stem.source_key)).all()
    engine.dispose()
    assert len(keys) == len(set(keys)) == 13


def test_files_that_resolve_outside_the_catalogue_root_are_reported_and_skipped(sqlite_url: str, tmp_path: Path,
                                                                               catalogue: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.wav"
    secret.write_bytes((catalogue / "Artist 0 - Song 0" / "bass.wav").read_bytes())
    song = catalogue / "Artist 1 - Song 1"
    (song / "lead_vocal.wav").symlink_to(secret)  # a symlinked file leading out
    (song / "synth_bass.wav").symlink_to(song / "bass.wav")  # one that stays inside: allowed
    (catalogue / "linked").symlink_to(outside, target_is_directory=True)  # a symlinked folder: not walked
    engine = make_engine(sqlite_url)
    sessions = session_factory(engine)
    report = sync_catalogue(sessions, catalogue, InstrumentVocabulary())
    assert report.stems == 13
    assert [(p, r) for p, r in report.unresolved if "outside" in r] == [("Artist 1 - Song 1/lead_vocal.wav", OUTSIDE)]

    manifests = tmp_path / "manifests"
    (manifests / "songs").mkdir(parents=True)
    inside = manifests / "songs" / "drums.wav"
    inside.write_bytes(secret.read_bytes())
    (manifests / "manifest.csv").write_text(
        "path,instrument,song\n"
        f"{secret},bass,a\n"  # absolute, elsewhere
        "../outside/secret.wav,drums,b\n"  # climbing out
        "songs/../../outside/secret.wav,other,c\n"
        f"{inside},vocals,d\n"  # absolute, but inside
        "songs/drums.wav,drums,e\n")  # the same file again: indexed once
    listed = sync_catalogue(sessions, manifests, InstrumentVocabulary())
    assert listed.stems == 1 and listed.new == 1
    assert sorted(r for _, r in listed.unresolved) == sorted([OUTSIDE] * 3 + ["listed twice in the catalogue: "
                                                                              "indexed once"])
    assert all(not Path(p).is_absolute() for p, _ in listed.unresolved)
    with sessions() as s:
        paths = s.scalars(select(Stem.path)).all()
    assert not any(Path(p).resolve().is_relative_to(outside) for p in paths)
    engine.dispose()
