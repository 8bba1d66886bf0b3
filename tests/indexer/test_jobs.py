"""The job queue: a queued row is claimed by exactly one runner, which runs build_index on it; progress and
outcome live in the row (SQLite and PostgreSQL)."""

import threading
from pathlib import Path

import pytest

from indexer.build import build_index
from indexer.jobs import JobQueue, JobRunner
from tests.indexer.conftest import make_settings


def test_a_queued_job_is_run_by_a_runner_to_succeeded_with_counts(tmp_path: Path, db_url: str, catalogue: Path,
                                                                  embedder) -> None:
    queue = JobQueue(db_url)
    queued = queue.submit(str(catalogue))
    assert (queued.status, queued.progress, queued.rebuild, queued.started_at) == ("queued", 0.0, False, None)
    done_jobs = []
    runner = JobRunner(make_settings(tmp_path, db_url), embedder, on_success=done_jobs.append)
    assert runner.run_until_idle() == 1 and runner.run_once() is None
    done = queue.get(queued.id)
    assert done is not None and done.status == "succeeded" and done.progress == 1.0
    assert (done.total, done.done, done.added, done.build, done.indexed_total) == (12, 12, 12, 1, 12)
    assert done.audio_seconds == pytest.approx(24.0) and done.seconds is not None and done.seconds > 0
    assert done.created_at.tzinfo is not None and done.finished_at is not None
    assert [j.id for j in done_jobs] == [queued.id]
    assert [j.id for j in queue.recent()] == [queued.id] and queue.get(999) is None
    runner.close()
    queue.close()


def test_a_failing_job_records_its_error_and_the_runner_goes_on(tmp_path: Path, db_url: str, catalogue: Path,
                                                               embedder) -> None:
    queue = JobQueue(db_url)
    bad = queue.submit(str(tmp_path / "missing"))
    good = queue.submit(str(catalogue))
    runner = JobRunner(make_settings(tmp_path, db_url), embedder)
    assert runner.run_until_idle() == 2
    failed, succeeded = queue.get(bad.id), queue.get(good.id)
    assert failed is not None and failed.status == "failed" and "catalogue not found" in (failed.error or "")
    assert succeeded is not None and succeeded.status == "succeeded"
    runner.close()
    queue.close()


def test_each_queued_job_is_claimed_exactly_once(db_url: str) -> None:
    queues = [JobQueue(db_url) for _ in range(4)]
    ids = {queues[0].submit(f"catalogue-{i}").id for i in range(12)}
    claimed: list[int] = []
    lock = threading.Lock()

    def claim_all(queue: JobQueue) -> None:
        while (job := queue.claim()) is not None:
            assert job.status == "running" and job.started_at is not None
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=claim_all, args=(q,)) for q in queues]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids)  # every job once, none twice
    for q in queues:
        q.close()


def test_build_index_without_a_job_writes_its_own_row(tmp_path: Path, sqlite_url: str, catalogue: Path,
                                                      embedder) -> None:
    report = build_index(catalogue, make_settings(tmp_path, sqlite_url), embedder)
    queue = JobQueue(sqlite_url)
    job = queue.get(report.job_id)
    assert job is not None and job.status == "succeeded" and job.catalogue == str(catalogue)
    assert queue.claim() is None
    queue.close()


def test_the_runner_thread_runs_what_is_queued_after_a_wake(tmp_path: Path, sqlite_url: str, catalogue: Path,
                                                             embedder) -> None:
    finished = threading.Event()
    runner = JobRunner(make_settings(tmp_path, sqlite_url), embedder, on_success=lambda _: finished.set(),
                       poll_seconds=60.0)
    runner.start()
    job = runner.queue.submit(str(catalogue), rebuild=True)
    runner.wake()
    assert finished.wait(120), "the woken runner did not run the job"
    runner.close(timeout=10)
    done = JobQueue(sqlite_url).get(job.id)
    assert done is not None and done.status == "succeeded" and done.rebuild


def test_index_worker_command_runs_the_queued_jobs_and_exits_with_once(tmp_path: Path, sqlite_url: str,
                                                                       catalogue: Path, tiny_checkpoint: Path) -> None:
    from typer.testing import CliRunner

    from stemjepa.cli import app

    queue = JobQueue(sqlite_url)
    job = queue.submit(str(catalogue))
    result = CliRunner().invoke(app, ["index-worker", "--once", "--db", sqlite_url, "--index-dir",
                                      str(tmp_path / "index"), "--checkpoint", str(tiny_checkpoint),
                                      "--device", "cpu", "--workers", "0"])
    assert result.exit_code == 0, result.output
    assert "1 jobs run" in result.output
    done = queue.get(job.id)
    assert done is not None and done.status == "succeeded" and done.indexed_total == 12
    queue.close()
