"""Job records: a queued job is picked up by build_index, which records progress and the outcome."""

from pathlib import Path

import pytest

from indexer.build import build_index
from indexer.jobs import get_job, list_jobs, queue_job
from tests.indexer.conftest import make_settings


def test_queued_job_runs_to_succeeded_with_counts(tmp_path: Path, sqlite_url: str, catalogue: Path, embedder) -> None:
    job_id = queue_job(sqlite_url, str(catalogue))
    queued = get_job(sqlite_url, job_id)
    assert queued is not None and queued.status == "queued"
    build_index(catalogue, make_settings(tmp_path, sqlite_url), embedder, job_id=job_id)
    done = get_job(sqlite_url, job_id)
    assert done is not None and done.status == "succeeded"
    assert (done.total, done.done, done.added, done.build) == (12, 12, 12, 1)
    assert done.audio_seconds == pytest.approx(24.0) and done.finished_at is not None
    assert [j.id for j in list_jobs(sqlite_url)] == [job_id] and get_job(sqlite_url, 999) is None


def test_a_failing_job_records_its_error(tmp_path: Path, sqlite_url: str, embedder) -> None:
    job_id = queue_job(sqlite_url, "missing")
    with pytest.raises(FileNotFoundError):
        build_index(tmp_path / "missing", make_settings(tmp_path, sqlite_url), embedder, job_id=job_id)
    job = get_job(sqlite_url, job_id)
    assert job is not None and job.status == "failed" and "catalogue not found" in (job.error or "")
