"""Index jobs started through the API: the indexer runs in a background thread, one job at a time.

Each job scans a folder inside the configured `catalogue_dir`, embeds new or changed stems with the
indexer, publishes a new build, and then the API's catalogue reloads it. Job state (status, progress,
result) is kept in memory by the API process; the indexer also records its own runs in the database.
"""

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.errors import ServiceError, invalid
from service.schemas import IndexJobOut

log = logging.getLogger(__name__)

# (source folder, rebuild, progress callback taking a 0..1 fraction) -> a summary of what was done
IndexFn = Callable[[Path, bool, Callable[[float], None]], dict[str, Any]]


@dataclass
class Job:
    id: str
    source: Path
    rebuild: bool
    status: str = "queued"
    progress: float = 0.0
    message: str | None = None
    created_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    result: dict[str, Any] | None = None

    def out(self) -> IndexJobOut:
        return IndexJobOut(id=self.id, status=self.status, source=str(self.source), progress=round(self.progress, 4),
                           message=self.message, created_at=self.created_at, finished_at=self.finished_at,
                           result=self.result)


class IndexJobs:
    """Queue and registry of index jobs; `index` does the work, `on_success` runs after each good job."""

    def __init__(self, catalogue_dir: Path | None, index: IndexFn, on_success: Callable[[], None]) -> None:
        self.catalogue_dir = catalogue_dir.resolve() if catalogue_dir else None
        self._index = index
        self._on_success = on_success
        self._jobs: dict[str, Job] = {}
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="stemjepa-index-jobs", daemon=True)
        self._thread.start()

    def resolve_source(self, source: str | None) -> Path:
        """The folder to index: `source` relative to catalogue_dir, which it may not leave (422)."""
        if self.catalogue_dir is None:
            raise ServiceError(409, "no_catalogue_dir", "index jobs need STEMJEPA_CATALOGUE_DIR to be set")
        if source and ("\x00" in source or Path(source).is_absolute()):
            raise invalid("source must be a folder relative to the catalogue directory")
        path = (self.catalogue_dir / (source or "")).resolve()
        if not path.is_relative_to(self.catalogue_dir):
            raise invalid("source must lie inside the catalogue directory")
        if not path.is_dir():
            raise invalid(f"no folder {source!r} in the catalogue directory")
        return path

    def submit(self, source: str | None, rebuild: bool) -> Job:
        job = Job(id=uuid.uuid4().hex, source=self.resolve_source(source), rebuild=rebuild)
        with self._lock:
            self._jobs[job.id] = job
        self._queue.put(job)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def close(self) -> None:
        self._queue.put(None)

    def _loop(self) -> None:
        while (job := self._queue.get()) is not None:
            self._run(job)

    def _run(self, job: Job) -> None:
        job.status = "running"
        started = time.perf_counter()

        def progress(fraction: float) -> None:
            job.progress = min(1.0, max(0.0, float(fraction)))

        try:
            job.result = self._index(job.source, job.rebuild, progress)
            self._on_success()
        except Exception as exc:  # reported through GET /index-jobs/{id}
            log.exception("index job %s failed", job.id)
            job.status, job.message = "failed", f"{type(exc).__name__}: {exc}"
        else:
            job.status, job.progress = "succeeded", 1.0
            job.message = f"indexed in {time.perf_counter() - started:.1f} s"
        job.finished_at = time.time()
