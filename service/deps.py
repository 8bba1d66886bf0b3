"""Dependencies of the route handlers, declared once as `Annotated` aliases."""

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request

from indexer.catalog import Catalogue
from service.errors import ServiceError, not_ready
from service.retrieval import Retriever
from service.runtime import Runtime
from service.settings import ServiceSettings


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_settings(runtime: RuntimeDep) -> ServiceSettings:
    return runtime.settings


SettingsDep = Annotated[ServiceSettings, Depends(get_settings)]


def get_ready_runtime(runtime: RuntimeDep) -> Runtime:
    """The runtime once model and index are loaded; 503 before."""
    if not runtime.ready:
        raise not_ready(runtime.load_error or runtime.waiting or "the model and index are still loading")
    return runtime


ReadyRuntimeDep = Annotated[Runtime, Depends(get_ready_runtime)]


def get_jobs_runtime(runtime: RuntimeDep) -> Runtime:
    """The runtime once its job queue is open, which it is before any index exists (so the API can index its
    own catalogue); 503 before."""
    if runtime.jobs is None:
        raise not_ready(runtime.load_error or "the model is still loading")
    return runtime


JobsRuntimeDep = Annotated[Runtime, Depends(get_jobs_runtime)]


def get_retriever(runtime: ReadyRuntimeDep) -> Retriever:
    assert runtime.retriever is not None
    return runtime.retriever


RetrieverDep = Annotated[Retriever, Depends(get_retriever)]


def get_catalogue(runtime: ReadyRuntimeDep) -> Catalogue:
    assert runtime.catalogue is not None
    return runtime.catalogue


CatalogueDep = Annotated[Catalogue, Depends(get_catalogue)]


def require_api_key(
    settings: SettingsDep,
    x_api_key: Annotated[str | None, Header(description="An API key from STEMJEPA_API_KEYS.")] = None,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> str:
    """The caller's key (X-API-Key or `Authorization: Bearer`); 401 when absent, 403 when not accepted."""
    key = x_api_key
    if key is None and authorization and authorization.lower().startswith("bearer "):
        key = authorization[7:].strip()
    if not key:
        raise ServiceError(401, "unauthorized", "an API key is required (header X-API-Key)")
    if not settings.api_keys:
        raise ServiceError(403, "forbidden", "this server accepts no API keys (STEMJEPA_API_KEYS is empty)")
    if not any(hmac.compare_digest(key.encode(), k.encode()) for k in settings.api_keys):
        raise ServiceError(403, "forbidden", "the API key is not accepted")
    return key


ApiKeyDep = Annotated[str, Depends(require_api_key)]
