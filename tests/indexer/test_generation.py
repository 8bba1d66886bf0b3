"""Blue/green rebuilds (indexer.generation): the published build serves until the rebuilt one is published; a
rebuild that fails, or is killed with SIGKILL, leaves it in service, and the next job, even a plain one,
resumes the rebuild and publishes vectors of the new checkpoint only (SQLite and PostgreSQL)."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from indexer import build as build_module
from indexer import generation, vectors
from indexer.build import IndexOptions, build_index
from indexer.catalog import Catalogue
from indexer.jobs import JobQueue
from indexer.manifest import read_manifest
from model.audio import load_mono
from model.embed import Embedder
from tests.indexer.conftest import make_settings
from tests.indexer.test_build import assert_consistent


@pytest.fixture
def other(tmp_path: Path, tiny_run) -> Embedder:
    """A tiny model of other weights: a new checkpoint that needs a rebuild."""
    from model.checkpoint import save_checkpoint
    from model.jepa import StemJEPA

    torch.manual_seed(1)
    save_checkpoint(tmp_path / "other.pt", StemJEPA(tiny_run.model), tiny_run, step=0)
    return Embedder.from_checkpoint(tmp_path / "other.pt", device="cpu", batch_size=8)


def assert_vectors_of(model: Embedder, cat: Catalogue, catalogue: Path) -> None:
    """Every vector of the served build is `model`'s embedding of its stem's file."""
    build = cat.current()
    assert build.manifest["checkpoint_hash"] == model.checkpoint_hash
    for inst, idx in build.indexes.items():
        ids, stored = vectors.flat_vectors(idx)
        for sid, vec in zip(ids.tolist(), stored, strict=True):
            record = cat.stems([sid])[0]
            assert record.instrument == inst and Path(record.path).is_relative_to(catalogue)
            expected = model.embed_stem(load_mono(record.path, model.sample_rate)).vector
            np.testing.assert_allclose(vec, expected, atol=1e-5)


def test_a_failed_rebuild_leaves_the_published_build_serving_and_the_next_plain_job_finishes_it(
        tmp_path: Path, db_url: str, catalogue: Path, embedder: Embedder, other: Embedder, monkeypatch) -> None:
    settings = make_settings(tmp_path, db_url)
    build_index(catalogue, settings, embedder)
    serving = Catalogue.open(db_url, settings.index_dir, checkpoint_hash=embedder.checkpoint_hash)

    def fail(*_a: object, **_k: object) -> None:
        raise OSError(f"disk full while writing {settings.index_dir}/vectors-000002-bass.faiss")

    monkeypatch.setattr(build_module, "publish", fail)
    queue = JobQueue(db_url)
    job = queue.submit(str(catalogue), rebuild=True)
    with pytest.raises(OSError):
        build_index(catalogue, settings, other, IndexOptions(rebuild=True), job_id=job.id)
    monkeypatch.undo()
    failed = queue.get(job.id)
    assert failed is not None and failed.status == "failed"
    assert failed.error is not None and str(tmp_path) not in failed.error and "internal error" in failed.error

    # the previous build is still the published one, whole, and a restarted service loads and lists it all
    manifest = read_manifest(settings.index_dir)
    assert manifest is not None and manifest["build"] == 1 and manifest["checkpoint_hash"] == embedder.checkpoint_hash
    for cat in (serving, Catalogue.open(db_url, settings.index_dir, checkpoint_hash=embedder.checkpoint_hash)):
        assert not cat.refresh() and cat.size() == 12 and cat.list_stems(limit=100)[1] == 12
        assert cat.songs()[1] == 3
        hits = cat.search(np.ones(cat.dim, np.float32), 12)
        assert len(cat.stems([h.stem_id for h in hits])) == 12
    pending = generation.read(settings.index_dir)
    assert pending is not None and pending.checkpoint_hash == other.checkpoint_hash and pending.since_build == 1

    # a plain job (no rebuild asked) with the new checkpoint resumes the rebuild: nothing to embed again
    report = build_index(catalogue, settings, other)
    assert (report.build, report.added, report.indexed_total) == (2, 0, 12)
    assert generation.read(settings.index_dir) is None
    assert queue.recent()[0].rebuild  # its row says it was a rebuild
    cat = assert_consistent(db_url, settings.index_dir, 12)
    assert_vectors_of(other, cat, catalogue)
    assert serving.size() == 12 and serving.list_stems()[1] == 12  # the old replica still lists its build
    cat.close()
    serving.close()
    queue.close()


def test_a_rebuild_killed_with_sigkill_is_resumed_as_a_rebuild_by_a_plain_run(
        tmp_path: Path, catalogue: Path, tiny_checkpoint: Path, other: Embedder) -> None:
    db_url = f"sqlite:///{tmp_path / 'catalogue.sqlite'}"
    index_dir = tmp_path / "index"

    def cmd(checkpoint: Path, *extra: str) -> list[str]:
        return [sys.executable, "-m", "stemjepa", "index", str(catalogue), "--db", db_url, "--index-dir",
                str(index_dir), "--checkpoint", str(checkpoint), "--device", "cpu", "--workers", "0",
                "--batch-size", "2", "--commit-stems", "2", *extra]

    first = subprocess.run(cmd(tiny_checkpoint), capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    proc = subprocess.Popen(cmd(tmp_path / "other.pt", "--rebuild"), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list((index_dir / "chunks").glob("chunk-*.npz"))) >= 2:
                break
            time.sleep(0.02)
        assert proc.poll() is None, f"the rebuild ended before it could be killed:\n{proc.stdout.read().decode()}"  # type: ignore[union-attr]
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(30)
    manifest = read_manifest(index_dir)
    assert manifest is not None and manifest["build"] == 1  # the old build is still the published one
    old = Catalogue.open(db_url, index_dir)
    assert old.size() == 12 and old.list_stems(limit=100)[1] == 12  # and it serves all of its stems
    old.close()
    assert generation.read(index_dir) is not None

    resumed = subprocess.run(cmd(tmp_path / "other.pt"), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "build 2:" in resumed.stdout and "12 in the index" in resumed.stdout
    assert generation.read(index_dir) is None
    cat = assert_consistent(db_url, index_dir, 12)
    assert_vectors_of(other, cat, catalogue)
    cat.close()
