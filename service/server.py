"""How the app is served: uvicorn's configuration from the settings, on an HTTP/1.1 protocol that drops clients
too slow to send their headers.

uvicorn bounds idle keep-alive connections and the size of a request's headers, but not the time their bytes
take: a client that sends a header line now and then (or connects and sends nothing) holds its connection for
good. `SlowHeadersH11Protocol` gives each request a deadline for its headers, counted from its first byte (from
the connection for the first request); the body's deadline is `service.limits.BodyLimit`'s, in the app.
"""

import asyncio
import json
import logging
from typing import Any

import h11
from uvicorn import Config
from uvicorn.protocols.http.h11_impl import H11Protocol

from service.errors import error_body
from service.settings import ServiceSettings

log = logging.getLogger(__name__)


def _timeout_response(seconds: float) -> bytes:
    body = json.dumps(error_body(408, "request_timeout", f"the request's headers took over {seconds:g} s")).encode()
    head = (f"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n\r\n").encode()
    return head + body


class SlowHeadersH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline of `header_timeout` seconds for each request's headers: when it
    passes, a partly sent request is answered 408 and the connection closed (a silent one just closed)."""

    header_timeout: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._headers_deadline: asyncio.TimerHandle | None = None
        self._request_started = False  # bytes of the awaited request have arrived

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # h11 leaves IDLE for the client only once a request's headers are complete
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self._request_started = self._request_started or bool(data)
            self._arm()
        else:
            self._disarm()
            self._request_started = False

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._headers_deadline is None:
            self._headers_deadline = self.loop.call_later(self.header_timeout, self._headers_timed_out)

    def _disarm(self) -> None:
        if self._headers_deadline is not None:
            self._headers_deadline.cancel()
            self._headers_deadline = None

    def _headers_timed_out(self) -> None:
        self._headers_deadline = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if self._request_started:
            log.info("closing a connection from %s: its request's headers took over %g s", self.client,
                     self.header_timeout)
            self.transport.write(_timeout_response(self.header_timeout))
        self.transport.close()


def protocol_for(settings: ServiceSettings) -> type[SlowHeadersH11Protocol]:
    """The HTTP protocol class with settings' header deadline (uvicorn builds one instance per connection)."""
    deadline = {"header_timeout": settings.header_timeout_seconds}
    return type("SlowHeadersH11Protocol", (SlowHeadersH11Protocol,), deadline)


def server_config(app: Any, settings: ServiceSettings, log_level: str = "info") -> Config:
    """uvicorn's configuration of `app`: settings' address, keep-alive, header size and header deadline."""
    return Config(app, host=settings.host, port=settings.port, log_level=log_level, http=protocol_for(settings),
                  timeout_keep_alive=settings.keep_alive_seconds,
                  h11_max_incomplete_event_size=settings.max_header_bytes, timeout_graceful_shutdown=5)
