"""`stemjepa index` on the MUSDB18 preview clips: 120 stems in SQL, FAISS and frames; a rerun adds 0; a run
killed with SIGKILL part-way and restarted ends with exactly 120, no duplicates."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from indexer.db import Stem, StemStatus, make_engine, session_factory
from tests.conftest import MUSDB_VALID, require
from tests.indexer.test_build import assert_consistent

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


def _index_cmd(catalogue: Path, db_url: str, index_dir: Path, checkpoint: Path) -> list[str]:
    return [sys.executable, "-m", "stemjepa", "index", str(catalogue), "--db", db_url, "--index-dir", str(index_dir),
            "--checkpoint", str(checkpoint), "--device", "cpu", "--workers", "1", "--batch-size", "8",
            "--commit-stems", "8"]


def _indexed(db_url: str) -> int:
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as s:
            return int(s.execute(select(func.count()).where(Stem.status == StemStatus.INDEXED)).scalar_one())
    finally:
        engine.dispose()


def test_musdb_valid_indexes_120_stems_survives_sigkill_and_reruns_add_nothing(tmp_path: Path,
                                                                               tiny_checkpoint: Path) -> None:
    catalogue = require(MUSDB_VALID)
    db_url = f"sqlite:///{tmp_path / 'catalogue.sqlite'}"
    index_dir = tmp_path / "index"
    cmd = _index_cmd(catalogue, db_url, index_dir, tiny_checkpoint)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if (index_dir / "chunks").is_dir() and len(list((index_dir / "chunks").glob("chunk-*.npz"))) >= 2:
                break
            time.sleep(0.05)
        assert proc.poll() is None, f"the run ended before it could be killed:\n{proc.stdout.read().decode()}"  # type: ignore[union-attr]
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(30)
    partial = _indexed(db_url)
    assert 0 < partial < 120
    assert not (index_dir / "manifest.json").exists()

    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "120 in the index" in done.stdout
    assert_consistent(db_url, index_dir, 120).close()

    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "+0 stems, 120 skipped" in again.stdout
    assert_consistent(db_url, index_dir, 120).close()
