"""Index jobs: start the indexer over the catalogue folder (API key required) and follow its progress."""

from typing import Annotated, Any

from fastapi import APIRouter, Path

from service.deps import ApiKeyDep, ReadyRuntimeDep
from service.errors import not_found
from service.schemas import ErrorBody, IndexJobOut, IndexJobRequest

router = APIRouter(prefix="/index-jobs", tags=["index jobs"])

_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorBody} for code in (401, 403, 404, 409, 422, 503)}


@router.post("", response_model=IndexJobOut, status_code=202, responses=_ERRORS,
             summary="Start indexing (a folder of) the catalogue directory in the background.")
def create_job(runtime: ReadyRuntimeDep, _key: ApiKeyDep, body: IndexJobRequest | None = None) -> IndexJobOut:
    body = body or IndexJobRequest.model_validate({})
    return runtime.index_jobs().submit(body.source, body.rebuild).out()


@router.get("/{job_id}", response_model=IndexJobOut, responses=_ERRORS, summary="Status and progress of a job.")
def get_job(runtime: ReadyRuntimeDep, _key: ApiKeyDep,
            job_id: Annotated[str, Path(max_length=64, pattern="^[0-9a-f]+$")]) -> IndexJobOut:
    job = runtime.index_jobs().get(job_id)
    if job is None:
        raise not_found(f"no index job {job_id}")
    return job.out()
