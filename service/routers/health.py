"""Operational endpoints: liveness, readiness, model and index facts, Prometheus metrics."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service import __version__
from service.deps import ReadyRuntimeDep, RuntimeDep
from service.schemas import ErrorBody, Health, Info, Readiness

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers.")
def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}},
            summary="Readiness: 200 once model and index are loaded, 503 before.")
def readyz(runtime: RuntimeDep) -> Response:
    body = Readiness(status="ready" if runtime.ready else "loading", model_loaded=runtime.embedder is not None,
                     index_loaded=runtime.catalogue is not None, detail=runtime.load_error or runtime.waiting)
    if runtime.load_error:
        body.status = "failed"
    return JSONResponse(body.model_dump(), status_code=200 if runtime.ready else 503)


@router.get("/info", response_model=Info, responses={503: {"model": ErrorBody}},
            summary="Model, checkpoint, index size and limits.")
def info(runtime: ReadyRuntimeDep) -> Info:
    emb, cat, s = runtime.embedder, runtime.catalogue, runtime.settings
    assert emb is not None and cat is not None
    names = list(emb.vocabulary.names)
    return Info(
        service_version=__version__, model=emb.cfg.name,
        checkpoint=str(s.checkpoint) if s.checkpoint else "bundled default",
        checkpoint_hash=emb.checkpoint_hash, embedding_version=emb.embedding_version, device=str(emb.device),
        instruments=names, embedding_dim=emb.dim, frame_dim=emb.frame_dim, frame_seconds=emb.frame_seconds,
        parameters=sum(p.numel() for p in emb.model.parameters()),
        index_size=cat.size(None), index_size_by_instrument={n: cat.size(n) for n in names},
        limits={"max_upload_bytes": s.max_upload_bytes, "max_audio_seconds": s.max_audio_seconds,
                "min_audio_seconds": s.min_audio_seconds, "silence_dbfs": s.silence_dbfs,
                "default_k": s.default_k, "max_k": s.max_k},
    )


@router.get("/metrics", summary="Prometheus metrics.", response_class=Response,
            responses={200: {"content": {"text/plain": {}}}})
def metrics(runtime: RuntimeDep) -> Response:
    return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)
