"""Index jobs: queue the indexer over (a folder of) the catalogue directory (API key required) and follow its
progress. A job is a row of the shared database (indexer.jobs), so any replica answers for any job."""

from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Path

from indexer.jobs import JobQueue, JobQueueFullError, JobRecord
from service.deps import ApiKeyDep, JobsRuntimeDep
from service.errors import ServiceError, invalid, not_found, not_ready
from service.params import MAX_ID
from service.runtime import Runtime
from service.schemas import ErrorBody, IndexJobOut, IndexJobRequest

router = APIRouter(prefix="/index-jobs", tags=["index jobs"])

_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorBody} for code in (401, 403, 404, 409, 422, 429, 503)}
# A body is read (and refused) before the key is checked.
_BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The body is not JSON."},
    413: {"model": ErrorBody, "description": "The body is over the size limit."},
    408: {"model": ErrorBody, "description": "The body took longer than the body timeout to arrive."},
}


def catalogue_source(catalogue_dir: FilePath | None, source: str | None) -> FilePath:
    """The folder to index: `source` relative to catalogue_dir, which it may not leave (422); 409 without one."""
    if catalogue_dir is None:
        raise ServiceError(409, "no_catalogue_dir", "index jobs need STEMJEPA_CATALOGUE_DIR to be set")
    if source and ("\x00" in source or FilePath(source).is_absolute()):
        raise invalid("source must be a folder relative to the catalogue directory")
    root = catalogue_dir.resolve()
    try:
        path = (root / (source or "")).resolve()
        inside, folder = path.is_relative_to(root), path.is_dir()
    except (OSError, RuntimeError):  # a name too long for the file system, a symlink loop
        inside, folder = False, False
    if not inside:
        raise invalid("source must be a folder inside the catalogue directory")
    if not folder:
        raise invalid(f"no folder {source!r} in the catalogue directory")
    return path


def job_out(job: JobRecord) -> IndexJobOut:
    message, result = job.error, None
    if job.status == "succeeded":
        seconds = job.seconds or 0.0
        message = f"indexed in {seconds:.1f} s"
        result = {"build": job.build, "added": job.added, "skipped": job.skipped, "failed": job.failed,
                  "removed": job.removed, "indexed_total": job.indexed_total,
                  "audio_seconds": round(job.audio_seconds, 2), "seconds": round(seconds, 2)}
    return IndexJobOut(id=job.id, status=job.status, source=job.catalogue, progress=round(job.progress, 4),
                       message=message, created_at=job.created_at.timestamp(),
                       finished_at=job.finished_at.timestamp() if job.finished_at else None, result=result)


def _queue(runtime: Runtime) -> JobQueue:
    if runtime.jobs is None:
        raise not_ready("this server keeps no index-job queue")
    return runtime.jobs


@router.post("", response_model=IndexJobOut, status_code=202, responses={**_ERRORS, **_BODY_ERRORS},
             summary="Queue indexing (a folder of) the catalogue directory; a job runner does it in the background.")
def create_job(runtime: JobsRuntimeDep, _key: ApiKeyDep, body: IndexJobRequest | None = None) -> IndexJobOut:
    body = body or IndexJobRequest.model_validate({})
    source = catalogue_source(runtime.settings.catalogue_dir, body.source)
    _queue(runtime)
    try:
        return job_out(runtime.submit_job(str(source), body.rebuild))
    except JobQueueFullError as exc:
        raise ServiceError(429, "too_many_requests", str(exc)) from exc


@router.get("/{job_id}", response_model=IndexJobOut, responses=_ERRORS,
            summary="Status and progress of a job (from the database: any replica answers).")
def get_job(runtime: JobsRuntimeDep, _key: ApiKeyDep, job_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> IndexJobOut:
    job = _queue(runtime).get(job_id)
    if job is None:
        raise not_found(f"no index job {job_id}")
    return job_out(job)
