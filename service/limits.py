"""Request body limits as ASGI middleware: size and time. A body over the size limit is answered 413 before it is
parsed, whether its size is declared (Content-Length) or found while it streams in (chunked); a body still
arriving when its deadline passes is answered 408. Either way whatever the app makes of the cut-off body (a
multipart parser's 400) is replaced by that answer, which closes the connection."""

import json
import time

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import error_body


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class BodyLimit:
    """Refuses requests whose declared or streamed body exceeds `max_bytes` (413) or is not all received
    `timeout_seconds` after the request's headers (408), with the JSON error body."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_seconds: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_seconds = timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(send, self._too_large())
            return
        deadline = time.monotonic() + self.timeout_seconds
        received = 0
        body_done = started = False
        refused: _Refused | None = None

        async def limited_receive() -> Message:
            nonlocal received, body_done, refused
            if body_done:  # e.g. a streaming response listening for the disconnect: no deadline
                return await receive()
            try:
                with anyio.fail_after(max(deadline - time.monotonic(), 0.0)):
                    message = await receive()
            except TimeoutError:
                refused = _Refused(408, "request_timeout",
                                   f"the request body was not received within {self.timeout_seconds:g} s")
                raise refused from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if received > self.max_bytes:
                    refused = self._too_large()
                    raise refused
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if refused is not None:  # the app answered a body it could not read whole: the answer is ours
                if not started:
                    started = True
                    await self._reject(send, refused)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _Refused as exc:
            if not started:
                started = True
                await self._reject(send, exc)

    def _too_large(self) -> _Refused:
        return _Refused(413, "too_large", f"the request body exceeds {self.max_bytes} bytes")

    @staticmethod
    async def _reject(send: Send, refused: _Refused) -> None:
        body = json.dumps(error_body(refused.status, refused.code, refused.message)).encode()
        await send({"type": "http.response.start", "status": refused.status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
