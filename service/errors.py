"""HTTP errors of the service and the handlers that turn every failure into one JSON body shape.

Body: `{"error": {"status": 422, "code": "unknown_instrument", "message": "...", "detail": ...}}`.
Domain errors of the other packages are mapped here and only here; anything unexpected becomes a 500 with
the same shape and no stack trace (and is logged with one).
"""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from model.errors import AudioDecodeError, CheckpointError, UnknownInstrumentError, redact_paths

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """An error with an HTTP status and a stable machine-readable code."""

    def __init__(self, status: int, code: str, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail


def bad_audio(message: str, detail: Any = None) -> ServiceError:
    return ServiceError(400, "bad_audio", message, detail)


def too_large(message: str, detail: Any = None) -> ServiceError:
    return ServiceError(413, "too_large", message, detail)


def unsupported_type(message: str, detail: Any = None) -> ServiceError:
    return ServiceError(415, "unsupported_media_type", message, detail)


def invalid(message: str, detail: Any = None) -> ServiceError:
    return ServiceError(422, "invalid_parameter", message, detail)


def not_found(message: str) -> ServiceError:
    return ServiceError(404, "not_found", message)


def not_ready(message: str) -> ServiceError:
    return ServiceError(503, "not_ready", message)


def error_body(status: int, code: str, message: str, detail: Any = None) -> dict[str, Any]:
    return {"error": {"status": status, "code": code, "message": message, "detail": detail}}


def error_response(status: int, code: str, message: str, detail: Any = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, code, message, detail), status_code=status, headers=headers)


_HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    406: "not_acceptable", 413: "too_large", 415: "unsupported_media_type", 416: "range_not_satisfiable",
    422: "invalid_parameter", 429: "too_many_requests", 503: "not_ready",
}


def _validation_detail(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Pydantic errors without the offending input (which may be a whole uploaded file)."""
    return [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in exc.errors()]


def _counted(request: Request, response: JSONResponse, code: str) -> JSONResponse:
    metrics = getattr(getattr(request.app.state, "runtime", None), "metrics", None)
    if metrics is not None:
        metrics.errors.labels(code).inc()
    return response


def install_error_handlers(app: FastAPI) -> None:
    """Registers the handlers that give every error the one body shape (each counted in the metrics)."""

    @app.exception_handler(ServiceError)
    async def _service(request: Request, exc: ServiceError) -> JSONResponse:
        return _counted(request, error_response(exc.status, exc.code, exc.message, exc.detail), exc.code)

    @app.exception_handler(AudioDecodeError)
    async def _decode(request: Request, exc: AudioDecodeError) -> JSONResponse:
        message = f"the upload could not be decoded as audio: {redact_paths(exc.reason)}"
        return _counted(request, error_response(400, "undecodable_audio", message), "undecodable_audio")

    @app.exception_handler(UnknownInstrumentError)
    async def _instrument(request: Request, exc: UnknownInstrumentError) -> JSONResponse:
        response = error_response(422, "unknown_instrument", str(exc), {"known": list(exc.known)})
        return _counted(request, response, "unknown_instrument")

    @app.exception_handler(CheckpointError)
    async def _checkpoint(_: Request, exc: CheckpointError) -> JSONResponse:
        log.error("checkpoint error: %s", exc)
        return error_response(503, "not_ready", "the model is not available")

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        response = error_response(422, "invalid_parameter", "the request's parameters are invalid",
                                  _validation_detail(exc))
        return _counted(request, response, "invalid_parameter")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        headers = dict(exc.headers) if exc.headers else None
        return error_response(exc.status_code, code, str(exc.detail), headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        # The server drops the connection after an unhandled error: say so, so the client does not reuse it.
        response = error_response(500, "internal_error", "internal error; the server log has the details",
                                  headers={"Connection": "close"})
        return _counted(request, response, "internal_error")
