"""Index jobs, the one door to them: a job is one row of `index_jobs`, whose id is the job's only id.

An API replica queues a row (`JobQueue.submit`); a runner claims it (`JobQueue.claim`: an `UPDATE ... WHERE
status = 'queued'` that exactly one claimant wins, on SQLite and PostgreSQL alike) and runs
`build_index(..., job_id=...)`, which advances the row at every durable commit and records the outcome. The
runner is `JobRunner`: a background thread of the API process by default, or `stemjepa index-worker` (the
GPU worker of docker compose). Status and progress are read from the database, so every replica answers for
every job. Nothing here migrates: the schema must be at head (compose's `migrate`, the demo's set-up).

The runner holds the index directory's lock (indexer.lock) from before it claims a job until the job ends, so
a job is 'running' only while its runner lives: a runner that holds the lock and finds rows still 'running'
knows their runner died (`kill -9`, a lost machine) and marks them failed. The queue is bounded (`submit`
refuses beyond `max_queued`). A failed job's row says what went wrong without SQL or server paths
(`public_error`); the log keeps the details.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from indexer.db import IndexJob, JobStatus, make_engine, require_schema, session_factory, utcnow
from indexer.errors import IndexerError
from indexer.lock import IndexBusyError, index_lock
from indexer.settings import IndexerSettings
from model.embed import Embedder
from model.errors import StemJepaError, redact_paths

log = logging.getLogger(__name__)


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands timestamps back without their zone; they were written in UTC."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


@dataclass(frozen=True)
class JobRecord:
    """An index job: status queued|running|succeeded|failed; stems done of total; audio_seconds in s."""

    id: int
    status: str
    catalogue: str
    engine: str
    rebuild: bool
    total: int
    done: int
    added: int
    skipped: int
    failed: int
    removed: int
    audio_seconds: float
    build: int | None
    indexed_total: int | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, j: IndexJob) -> "JobRecord":
        return cls(j.id, j.status, j.catalogue, j.engine, bool(j.rebuild), j.total, j.done, j.added, j.skipped,
                   j.failed, j.removed, j.audio_seconds, j.build, j.indexed_total, j.error,
                   _aware(j.created_at) or utcnow(), _aware(j.started_at), _aware(j.finished_at))

    @property
    def progress(self) -> float:
        """Fraction done, 0..1: stems committed of the stems to embed; 1 once succeeded."""
        if self.status == JobStatus.SUCCEEDED:
            return 1.0
        return min(1.0, self.done / self.total) if self.total else 0.0

    @property
    def seconds(self) -> float | None:
        """Run time (s) of a finished job."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


# ---- the row's life, written by build_index and the writer inside their own sessions -----------------------
def insert_job(sessions: sessionmaker, catalogue: str, engine: str = "local", rebuild: bool = False) -> int:
    """A queued job row; returns its id."""
    with sessions() as s, s.begin():
        job = IndexJob(catalogue=catalogue, engine=engine, rebuild=rebuild, status=JobStatus.QUEUED)
        s.add(job)
        s.flush()
        return int(job.id)


def mark_running(sessions: sessionmaker, job_id: int) -> None:
    with sessions() as s, s.begin():
        s.execute(update(IndexJob).where(IndexJob.id == job_id).values(
            status=JobStatus.RUNNING, started_at=func.coalesce(IndexJob.started_at, utcnow())))


def record(session: Session, job_id: int, **values: object) -> None:
    """Sets counts of the job (total, done, added, skipped, failed, audio_seconds, ...) in `session`'s
    transaction, so progress is durable exactly when the work it counts is."""
    session.execute(update(IndexJob).where(IndexJob.id == job_id).values(**values))


def mark_succeeded(sessions: sessionmaker, job_id: int, build: int | None, indexed_total: int, removed: int) -> None:
    """`build` None: nothing changed, so nothing was published."""
    with sessions() as s, s.begin():
        record(s, job_id, status=JobStatus.SUCCEEDED, build=build, indexed_total=indexed_total, removed=removed,
               finished_at=utcnow())


def mark_failed(sessions: sessionmaker, job_id: int, error: str) -> None:
    with sessions() as s, s.begin():
        record(s, job_id, status=JobStatus.FAILED, error=error, finished_at=utcnow())


INTERRUPTED = "interrupted: the process running the job stopped before it finished"


def public_error(exc: BaseException, roots: tuple[str | Path, ...] = ()) -> str:
    """What a failed job's row says: a domain error's message (or a missing or unreadable catalogue's) with
    paths under `roots` (the catalogue) shown relative to them and any other path by its file name; for
    anything else (a database error, a bug) only its kind, since its text may hold SQL and paths."""
    if isinstance(exc, KeyboardInterrupt | SystemExit):
        return INTERRUPTED
    if isinstance(exc, StemJepaError | FileNotFoundError | NotADirectoryError | PermissionError | ValueError):
        return redact_paths(f"{type(exc).__name__}: {exc}", roots)
    return f"{type(exc).__name__}: internal error; the indexer's log has the details"


class JobQueueFullError(IndexerError):
    """As many jobs as the queue holds are waiting already."""


# ---- the queue ----------------------------------------------------------------------------------------------
class JobQueue:
    """The index_jobs table of one database as a queue. Safe to share between threads."""

    def __init__(self, db_url: str) -> None:
        self._engine = make_engine(db_url)
        require_schema(self._engine)
        self._sessions = session_factory(self._engine)

    @property
    def sessions(self) -> sessionmaker:
        return self._sessions

    def submit(self, catalogue: str, rebuild: bool = False, engine: str = "local",
               max_queued: int | None = None) -> JobRecord:
        """Queues a job over `catalogue` (a folder, manifest or .stem.mp4 the runners can read).

        Raises:
            JobQueueFullError: `max_queued` jobs are queued already (replicas that submit at the same moment
                may each pass the check once: the bound holds to within their number).
        """
        if max_queued is not None and self.queued() >= max_queued:
            raise JobQueueFullError(f"{max_queued} index jobs are queued already; try again when one has run")
        job = self.get(insert_job(self._sessions, catalogue, engine, rebuild))
        assert job is not None
        return job

    def get(self, job_id: int) -> JobRecord | None:
        with self._sessions() as s:
            job = s.get(IndexJob, job_id)
            return JobRecord.of(job) if job is not None else None

    def queued(self) -> int:
        """How many jobs wait to be claimed."""
        with self._sessions() as s:
            return int(s.scalar(select(func.count()).where(IndexJob.status == JobStatus.QUEUED)) or 0)

    def fail_stale(self) -> int:
        """Marks every 'running' job failed (interrupted); returns how many. Only for a caller that holds the
        index directory's lock: then no job is running, and a row saying otherwise outlived its runner."""
        with self._sessions() as s, s.begin():
            n = s.execute(update(IndexJob).where(IndexJob.status == JobStatus.RUNNING).values(
                status=JobStatus.FAILED, error=INTERRUPTED, finished_at=utcnow())).rowcount
        if n:
            log.warning("%d index jobs were left running by a runner that stopped; marked failed", n)
        return int(n or 0)

    def recent(self, limit: int = 20) -> list[JobRecord]:
        """The most recent jobs first."""
        with self._sessions() as s:
            return [JobRecord.of(j) for j in s.scalars(select(IndexJob).order_by(IndexJob.id.desc()).limit(limit))]

    def claim(self) -> JobRecord | None:
        """The oldest queued job, now running and this caller's; None when none is queued.

        The conditional UPDATE is the lock: of two runners after the same row, one changes it and the other
        changes nothing (PostgreSQL re-checks the condition after the winner commits; SQLite runs writes one
        at a time) and moves on to the next queued row. Reading the candidate in its own transaction keeps
        SQLite's WAL snapshot from going stale under a concurrent claim.
        """
        while True:
            with self._sessions() as s:
                candidate = s.scalar(select(func.min(IndexJob.id)).where(IndexJob.status == JobStatus.QUEUED))
            if candidate is None:
                return None
            with self._sessions() as s, s.begin():
                won = s.execute(update(IndexJob)
                                .where(IndexJob.id == candidate, IndexJob.status == JobStatus.QUEUED)
                                .values(status=JobStatus.RUNNING, started_at=utcnow())).rowcount
            if won:
                return self.get(int(candidate))

    def close(self) -> None:
        self._engine.dispose()


# ---- the runner ---------------------------------------------------------------------------------------------
class JobRunner:
    """Claims queued jobs one at a time and runs them with `settings` (and `embedder`, when the process has
    one loaded already); `on_success(job)` runs after each job that succeeded. `start()` runs it in a
    background thread that looks for work every `poll_seconds` (and at once after `wake()`)."""

    def __init__(self, settings: IndexerSettings, embedder: Embedder | None = None,
                 on_success: Callable[[JobRecord], None] | None = None, poll_seconds: float = 2.0) -> None:
        self.settings = settings
        self.embedder = embedder
        self.queue = JobQueue(settings.database_url)
        self.on_success = on_success
        self.poll_seconds = poll_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> JobRecord | None:
        """Claims and runs one queued job; returns its final record, or None when none was queued or another
        job (a `stemjepa index`, another runner) holds the index directory. A failed job is recorded in its row
        (and logged), never raised. Jobs left 'running' by a runner that died are marked failed first."""
        from indexer.build import IndexOptions, build_index

        try:
            with index_lock(Path(self.settings.index_dir)):
                self.queue.fail_stale()
                job = self.queue.claim()
                if job is None:
                    return None
                log.info("index job %d: %s%s", job.id, job.catalogue, " (rebuild)" if job.rebuild else "")
                options = IndexOptions(engine="ray" if job.engine == "ray" else "local", rebuild=job.rebuild)
                try:
                    build_index(job.catalogue, self.settings, self.embedder, options, job_id=job.id)
                except Exception:  # recorded in the job's row by build_index; the runner goes on with the next job
                    log.exception("index job %d failed", job.id)
        except IndexBusyError:
            log.debug("the index directory is busy; queued jobs wait for the next poll")
            return None
        done = self.queue.get(job.id)
        assert done is not None
        if done.status == JobStatus.SUCCEEDED and self.on_success is not None:
            self.on_success(done)
        return done

    def run_until_idle(self) -> int:
        """Runs queued jobs until none is left; returns how many ran."""
        n = 0
        while self.run_once() is not None:
            n += 1
        return n

    def serve(self) -> None:
        """Runs jobs until `close()`: each poll (or wake-up) runs what is queued."""
        while not self._stop.is_set():
            try:
                self.run_until_idle()
            except Exception:  # the database may be away for a moment; the next poll tries again
                log.exception("index job runner: claiming a job failed")
            self._wake.wait(self.poll_seconds)
            self._wake.clear()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve, name="stemjepa-index-jobs", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Looks for work now (after a submit in this process) instead of at the next poll."""
        self._wake.set()

    def close(self, timeout: float | None = None) -> None:
        """Stops after the job in progress (waiting at most `timeout` s for it)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.queue.close()
