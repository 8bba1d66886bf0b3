"""Index jobs end to end on generated catalogues, on SQLite and PostgreSQL: counts agree across SQL, FAISS
and frames; reruns add nothing; bad files are reported and skipped; changes, removals, IVF and rebuilds."""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from sqlalchemy import func, select

from analysis.music import ANALYSIS_VERSION, facts_of
from indexer import vectors
from indexer.build import IndexOptions, build_index, remove_stems
from indexer.catalog import Catalogue
from indexer.db import IndexJob, JobStatus, Stem, StemStatus, make_engine, session_factory
from indexer.errors import IndexMismatchError
from indexer.manifest import read_manifest
from tests.indexer.conftest import make_settings


def _sql_indexed(db_url: str) -> list[int]:
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as s:
            return sorted(s.scalars(select(Stem.id).where(Stem.status == StemStatus.INDEXED)))
    finally:
        engine.dispose()


def assert_consistent(db_url: str, index_dir: Path, expected: int) -> Catalogue:
    """SQL indexed rows, FAISS ids, frame sequences, analyses and the stems the build lists are the same set of
    `expected` stems, and SQL's analysis facts are those of the stored feature rows."""
    ids = _sql_indexed(db_url)
    cat = Catalogue.open(db_url, index_dir)
    build = cat.current()
    faiss_ids = sorted(int(i) for idx in build.indexes.values() for i in vectors.index_ids(idx))
    assert len(ids) == len(set(ids)) == expected
    assert faiss_ids == ids
    assert sorted(build.frame_store.ids().tolist()) == ids
    assert cat.size() == expected == cat.manifest["counts"]["stems"]
    listed, total = cat.list_stems(limit=500)
    assert total == expected and sorted(r.id for r in listed) == ids
    analyses = build.analyses
    assert sorted(analyses.features_ids.tolist()) == ids == analyses.sequences["onsets"].ids().tolist()
    assert cat.manifest["counts"]["analysed"] == expected
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as s:
            rows = s.execute(select(Stem.id, Stem.bpm, Stem.key, Stem.analysis_version)
                             .where(Stem.status == StemStatus.INDEXED)).all()
    finally:
        engine.dispose()
    stored, found = cat.analysis_rows([r[0] for r in rows])
    assert found.all()
    for (sid, bpm, key, version), row in zip(rows, stored, strict=True):
        facts = facts_of(row)
        assert version == ANALYSIS_VERSION and bpm == pytest.approx(facts["bpm"]) and key == facts["key"], sid
    return cat


def test_index_then_rerun_adds_nothing(tmp_path: Path, db_url: str, catalogue: Path, embedder) -> None:
    settings = make_settings(tmp_path, db_url)
    seen = []
    first = build_index(catalogue, settings, embedder, progress=seen.append)
    assert (first.added, first.failed, first.indexed_total, first.build) == (12, 0, 12, 1)
    assert seen[-1].stage == "publish" and seen[-1].done == 12
    cat = assert_consistent(db_url, settings.index_dir, 12)
    rec = cat.stems([1])[0]
    assert rec.sample_rate == 16_000 and rec.duration_seconds == pytest.approx(2.0)
    # the stored vector is the Embedder's vector of the file: it finds itself first
    wave = embedder.load_audio(rec.path)
    emb = embedder.embed_stem(wave)
    assert cat.search(emb.vector, 1, rec.instrument)[0].stem_id == rec.id
    stored = cat.frames(rec.id)  # sign bits of a rotation (store format 3): unit rows near the model's
    assert stored.shape == emb.frames.shape and np.allclose(np.linalg.norm(stored, axis=1), 1.0, atol=1e-5)
    assert np.mean(np.sum(stored * emb.frames, axis=1)) > 0.6
    cat.close()
    second = build_index(catalogue, settings, embedder)
    assert (second.added, second.skipped, second.build) == (0, 12, 1)
    assert_consistent(db_url, settings.index_dir, 12).close()
    engine = make_engine(db_url)
    with session_factory(engine)() as s:
        jobs = s.scalars(select(IndexJob).order_by(IndexJob.id)).all()
        assert [j.status for j in jobs] == [JobStatus.SUCCEEDED] * 2 and jobs[0].added == 12
    engine.dispose()


def test_corrupt_and_non_audio_files_are_reported_and_skipped(tmp_path: Path, db_url: str, catalogue: Path,
                                                              embedder) -> None:
    bad = catalogue / "Broken - Song"
    bad.mkdir()
    (bad / "bass.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage")
    (bad / "drums.mp3").write_text("this is not audio at all")
    (bad / "kazoo.wav").write_bytes(b"no class for this name")
    report = build_index(catalogue, make_settings(tmp_path, db_url), embedder)
    assert report.added == 12 and report.failed == 2
    assert sorted(Path(k).name for k, _ in report.failures) == ["bass.wav", "drums.mp3"]
    assert [Path(p).name for p, _ in report.unresolved] == ["kazoo.wav"]
    assert_consistent(db_url, tmp_path / "index", 12).close()
    again = build_index(catalogue, make_settings(tmp_path, db_url), embedder)
    assert (again.added, again.failed) == (0, 0)


def test_changed_added_and_removed_stems(tmp_path: Path, db_url: str, catalogue: Path, embedder) -> None:
    settings = make_settings(tmp_path, db_url)
    build_index(catalogue, settings, embedder)
    target = catalogue / "Artist 0 - Song 0" / "bass.wav"
    sf.write(target, np.random.default_rng(5).standard_normal(16_000).astype(np.float32) * 0.1, 16_000)
    shutil.copytree(catalogue / "Artist 1 - Song 1", catalogue / "Artist 9 - Song 9")
    report = build_index(catalogue, settings, embedder)
    assert (report.added, report.removed, report.indexed_total) == (5, 1, 16)
    cat = assert_consistent(db_url, settings.index_dir, 16)
    song_id = cat.list_stems(q="song 9")[0][0].song_id
    stem_id = cat.list_stems(instrument="drums")[0][0].id
    cat.close()
    removed = remove_stems(settings, stem_ids=[stem_id], song_ids=[song_id])
    assert removed.removed == 5 and removed.stems == 11
    assert_consistent(db_url, settings.index_dir, 11).close()
    shutil.rmtree(catalogue / "Artist 2 - Song 2")
    shutil.rmtree(catalogue / "Artist 9 - Song 9")
    pruned = build_index(catalogue, settings, embedder, IndexOptions(prune=True))
    assert (pruned.added, pruned.removed) == (1, 4)
    # the drums stem removed by id is re-discovered (its file is still there) and indexed again
    assert_consistent(db_url, settings.index_dir, 8).close()


def test_large_instruments_switch_to_ivf(tmp_path: Path, sqlite_url: str, catalogue: Path, embedder) -> None:
    settings = make_settings(tmp_path, sqlite_url, ivf_threshold=2, ivf_nprobe=1)
    build_index(catalogue, settings, embedder)
    manifest = read_manifest(settings.index_dir)
    assert manifest is not None
    entry = manifest["instruments"]["bass"]
    assert entry["type"] == "ivf" and 0.0 <= entry["ivf"]["recall_at_10"] <= 1.0
    cat = assert_consistent(sqlite_url, settings.index_dir, 12)
    hits = cat.search(np.ones(cat.dim, np.float32) / np.sqrt(cat.dim), 10, "bass")
    assert hits and {r.instrument for r in cat.stems([h.stem_id for h in hits])} == {"bass"}


def test_a_new_checkpoint_is_refused_until_rebuild(tmp_path: Path, sqlite_url: str, catalogue: Path, embedder,
                                                   tiny_run) -> None:
    import torch

    from model.checkpoint import save_checkpoint
    from model.embed import Embedder
    from model.jepa import StemJEPA

    settings = make_settings(tmp_path, sqlite_url)
    build_index(catalogue, settings, embedder)
    torch.manual_seed(1)
    save_checkpoint(tmp_path / "other.pt", StemJEPA(tiny_run.model), tiny_run, step=0)
    other = Embedder.from_checkpoint(tmp_path / "other.pt", device="cpu")
    with pytest.raises(IndexMismatchError):
        build_index(catalogue, settings, other)
    report = build_index(catalogue, settings, other, IndexOptions(rebuild=True))
    assert report.added == 12 and report.build == 2
    with pytest.raises(IndexMismatchError):
        Catalogue.open(sqlite_url, settings.index_dir, checkpoint_hash=embedder.checkpoint_hash)
    assert_consistent(sqlite_url, settings.index_dir, 12).close()
    assert not (settings.index_dir / "rebuild.json").exists()
    # the rebuilt build's files, and the previous build's, kept for a replica that may still be loading it
    assert sorted(p.name for p in settings.index_dir.glob("vectors-*")) == sorted(
        f"vectors-00000{b}-{i}.faiss" for b in (1, 2) for i in ("bass", "drums", "other", "vocals"))


def test_decoding_in_worker_processes_gives_the_same_index(tmp_path: Path, sqlite_url: str, catalogue: Path,
                                                           embedder) -> None:
    if (os.cpu_count() or 1) < 2:
        pytest.skip("needs two CPUs")
    settings = make_settings(tmp_path, sqlite_url, workers=2)
    assert build_index(catalogue, settings, embedder).added == 12
    assert_consistent(sqlite_url, settings.index_dir, 12).close()
    engine = make_engine(sqlite_url)
    with session_factory(engine)() as s:
        assert s.execute(select(func.count()).where(Stem.content_sha256.is_(None))).scalar_one() == 0
    engine.dispose()


def _as_previous_release(db_url: str, index_dir: Path) -> None:
    """Turns an index into one made by the release before analyses: no analysis packs in the manifest or the
    folder, the database downgraded to revision 0001 (no analysis columns)."""
    from indexer.db import alembic_config
    from indexer.manifest import manifest_path
    from model.files import atomic_write_json

    manifest = read_manifest(index_dir)
    assert manifest is not None
    for kind, names in manifest.pop("analysis_packs").items():
        for name in names:
            (index_dir / f"{name}.npy").unlink()
            (index_dir / f"{name}.ids.npy").unlink()
        assert kind
    manifest.pop("analysis_version")
    manifest["counts"].pop("analysed")
    atomic_write_json(manifest_path(index_dir), manifest)
    from alembic import command

    command.downgrade(alembic_config(db_url), "0001")


def test_an_index_of_the_previous_release_is_migrated_and_analysed_without_reembedding(
        tmp_path: Path, db_url: str, catalogue: Path, embedder) -> None:
    from indexer.db import upgrade

    settings = make_settings(tmp_path, db_url)
    build_index(catalogue, settings, embedder)
    cat = Catalogue.open(db_url, settings.index_dir)
    frames_before = {i: cat.frames(i) for i in range(1, 13)}
    faiss_before = {n: vectors.index_ids(idx).tolist() for n, idx in cat.current().indexes.items()}
    cat.close()
    _as_previous_release(db_url, settings.index_dir)
    upgrade(db_url)  # the migration runs forward on the previous release's database
    engine = make_engine(db_url)
    with session_factory(engine)() as s:
        assert s.execute(select(func.count()).where(Stem.analysis_version.is_(None))).scalar_one() == 12
    engine.dispose()
    old = Catalogue.open(db_url, settings.index_dir)  # an unanalysed build still serves, by the model alone
    assert old.analysed() == 0 and old.signature(1) is None and old.size() == 12
    old.close()

    report = build_index(catalogue, settings, embedder)
    assert (report.added, report.analysed, report.failed) == (0, 12, 0)
    cat = assert_consistent(db_url, settings.index_dir, 12)
    assert {n: vectors.index_ids(idx).tolist() for n, idx in cat.current().indexes.items()} == faiss_before
    for i, frames in frames_before.items():
        np.testing.assert_array_equal(cat.frames(i), frames)
    sig = cat.signature(1)
    assert sig is not None and sig.bands.shape[0] == 4 and sig.chroma.shape[1] == 12
    cat.close()
    again = build_index(catalogue, settings, embedder)
    assert (again.added, again.analysed) == (0, 0)


def test_analysis_chunk_written_but_sql_not_committed_is_rolled_forward(tmp_path: Path, sqlite_url: str,
                                                                        catalogue: Path, embedder,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import indexer.writer as writer_module
    from indexer.db import upgrade

    settings = make_settings(tmp_path, sqlite_url)
    build_index(catalogue, settings, embedder)
    _as_previous_release(sqlite_url, settings.index_dir)
    upgrade(sqlite_url)

    def killed(*_a: object, **_k: object) -> None:
        raise RuntimeError("killed between the chunk and the SQL commit")

    monkeypatch.setattr(writer_module, "update", killed)
    with pytest.raises(RuntimeError, match="killed"):
        build_index(catalogue, settings, embedder)
    monkeypatch.undo()
    report = build_index(catalogue, settings, embedder)
    assert report.added == 0  # nothing re-embedded; the analyses of the first chunk were rolled forward
    assert report.analysed == 12 - 4
    assert_consistent(sqlite_url, settings.index_dir, 12).close()
