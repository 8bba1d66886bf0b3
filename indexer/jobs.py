"""Index job records for the service: queue a job row, read its status and progress, list recent jobs.

`POST /index-jobs` calls `queue_job` and hands the id to `build_index(..., job_id=id)` in the background;
`GET /index-jobs/{id}` calls `get_job`. build_index updates the row at every durable commit.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from indexer.build import create_job
from indexer.db import IndexJob, make_engine, session_factory


@dataclass(frozen=True)
class JobRecord:
    """An index job: status queued|running|succeeded|failed; stems done of total; audio_seconds in s."""

    id: int
    status: str
    catalogue: str
    engine: str
    total: int
    done: int
    added: int
    skipped: int
    failed: int
    removed: int
    audio_seconds: float
    build: int | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def _record(j: IndexJob) -> JobRecord:
    return JobRecord(j.id, j.status, j.catalogue, j.engine, j.total, j.done, j.added, j.skipped, j.failed,
                     j.removed, j.audio_seconds, j.build, j.error, j.created_at, j.started_at, j.finished_at)


def queue_job(db_url: str, catalogue: str, engine: str = "local") -> int:
    """Creates a queued job row; returns its id."""
    db = make_engine(db_url)
    try:
        return create_job(session_factory(db), catalogue, engine)
    finally:
        db.dispose()


def get_job(db_url: str, job_id: int) -> JobRecord | None:
    db = make_engine(db_url)
    try:
        with session_factory(db)() as s:
            job = s.get(IndexJob, job_id)
            return _record(job) if job is not None else None
    finally:
        db.dispose()


def list_jobs(db_url: str, limit: int = 20) -> list[JobRecord]:
    """The most recent jobs first."""
    db = make_engine(db_url)
    try:
        with session_factory(db)() as s:
            return [_record(j) for j in s.scalars(select(IndexJob).order_by(IndexJob.id.desc()).limit(limit))]
    finally:
        db.dispose()
