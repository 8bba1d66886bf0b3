"""Slow clients, on the server `stemjepa serve` runs: raw sockets that send their headers or their body a few
bytes at a time (or nothing) are answered 408 and dropped within the limits; a kept-alive connection's requests
each get their own header deadline; headers that grow past the size limit unfinished are refused."""

import contextlib
import json
import select
import socket
import time
from collections.abc import Iterator

import anyio
import pytest

from service.limits import BodyLimit
from service.server import SlowHeadersH11Protocol
from service.settings import ServiceSettings
from tests.service.conftest import served

HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 1.5
# what a loaded 2-core CI machine may add to a deadline before the socket is seen closed
SLACK = 1.5
DRIP = 0.2  # seconds between a slow client's sends


@pytest.fixture(scope="module")
def address(indexed: ServiceSettings) -> Iterator[tuple[str, int]]:
    settings = indexed.model_copy(update={
        "header_timeout_seconds": HEADER_TIMEOUT, "body_timeout_seconds": BODY_TIMEOUT, "keep_alive_seconds": 5,
        "max_header_bytes": 4096, "run_index_jobs": False, "catalogue_poll_seconds": 0.0})
    with served(settings) as url:
        host, port = url.removeprefix("http://").split(":")
        yield host, int(port)


def _drip(address: tuple[str, int], head: bytes, drip: bytes, clients: int,
          give_up: float) -> list[tuple[float, bytes]]:
    """`clients` connections each send `head`, then `drip` every DRIP seconds until the server closes them;
    per connection, the seconds until it was closed and what the server sent (inf if still open at `give_up`)."""
    socks = [socket.create_connection(address) for _ in range(clients)]
    started = time.monotonic()
    answers = {s: b"" for s in socks}
    closed: dict[socket.socket, float] = {}
    for s in socks:
        s.sendall(head)
    next_drip = started + DRIP
    try:
        while len(closed) < clients and time.monotonic() - started < give_up:
            readable, _, _ = select.select([s for s in socks if s not in closed], [], [], 0.05)
            for s in readable:
                try:
                    data = s.recv(65536)
                except ConnectionResetError:
                    data = b""
                answers[s] += data
                if not data:
                    closed[s] = time.monotonic() - started
            if time.monotonic() >= next_drip:
                next_drip += DRIP
                for s in socks:
                    if s not in closed:
                        with contextlib.suppress(OSError):  # closed by the server: recv says so next round
                            s.sendall(drip)
    finally:
        for s in socks:
            s.close()
    return [(closed.get(s, float("inf")), answers[s]) for s in socks]


def _read_response(sock: socket.socket) -> bytes:
    """One whole response (its Content-Length body, or to the close without one), however the server split its
    writes."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        data = sock.recv(65536)
        assert data, f"closed after {answer!r}"
        answer += data
    head, body = answer.split(b"\r\n\r\n", 1)
    lengths = [int(line.split(b":")[1]) for line in head.lower().split(b"\r\n") if line.startswith(b"content-length:")]
    while not lengths or len(body) < lengths[0]:
        data = sock.recv(65536)
        if not data and not lengths:
            break
        assert data, f"closed after {answer!r}"
        body += data
    return head + b"\r\n\r\n" + body


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def _body(answer: bytes) -> dict:
    return json.loads(answer.split(b"\r\n\r\n", 1)[1])


def test_clients_sending_headers_slowly_get_408_and_are_dropped_within_the_limit(address: tuple[str, int]) -> None:
    results = _drip(address, b"GET /healthz HTTP/1.1\r\nHost: x\r\n", b"X-Slow: 1\r\n", clients=30,
                    give_up=HEADER_TIMEOUT + 10 * SLACK)
    seconds = [s for s, _ in results]
    assert max(seconds) < HEADER_TIMEOUT + SLACK, seconds
    assert min(seconds) >= HEADER_TIMEOUT - 0.05, seconds
    for _, answer in results:
        assert _status(answer) == 408, answer
        assert _body(answer)["error"]["code"] == "request_timeout"


def test_a_connection_that_sends_nothing_is_closed_within_the_limit(address: tuple[str, int]) -> None:
    [(seconds, answer)] = _drip(address, b"", b"", clients=1, give_up=HEADER_TIMEOUT + 10 * SLACK)
    assert HEADER_TIMEOUT - 0.05 <= seconds < HEADER_TIMEOUT + SLACK and answer == b""


def test_a_body_sent_slowly_gets_408_and_is_dropped_within_the_limit(address: tuple[str, int]) -> None:
    head = (b"POST /index-jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n{\"source\": \"")
    results = _drip(address, head, b"a", clients=10, give_up=BODY_TIMEOUT + 10 * SLACK)
    for seconds, answer in results:
        assert BODY_TIMEOUT - 0.05 <= seconds < BODY_TIMEOUT + SLACK, seconds
        assert _status(answer) == 408, answer
        assert b"connection: close" in answer.lower()
        assert _body(answer)["error"]["code"] == "request_timeout"


def test_each_request_on_a_kept_alive_connection_gets_its_own_header_deadline(address: tuple[str, int]) -> None:
    with socket.create_connection(address) as sock:
        sock.settimeout(HEADER_TIMEOUT + SLACK)
        for _ in range(3):  # 3 x 0.6 s: past the header deadline of the connection's first request
            time.sleep(0.6 * HEADER_TIMEOUT)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = _read_response(sock)
            assert _status(answer) == 200, answer


def test_unfinished_headers_over_the_size_limit_get_400_and_the_connection_closed(address: tuple[str, int]) -> None:
    with socket.create_connection(address) as sock:
        sock.settimeout(HEADER_TIMEOUT + SLACK)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8192)  # no end in sight
        answer = _read_response(sock)
        assert _status(answer) == 400, answer
        assert sock.recv(65536) == b""


def test_the_body_deadline_ends_with_the_body() -> None:
    """After the whole body, receive() waits for the disconnect as long as it takes (a streamed answer)."""
    messages = [{"type": "http.request", "body": b"{}", "more_body": False}, {"type": "http.disconnect"}]
    sent: list[dict] = []

    async def receive() -> dict:
        if len(messages) == 1:
            await anyio.sleep(0.3)  # the client leaves after the deadline
        return messages.pop(0)

    async def send(message: dict) -> None:
        sent.append(message)

    async def app(scope: dict, receive_: object, send_: object) -> None:
        assert (await receive_())["type"] == "http.request"  # type: ignore[operator]
        await send_({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
        assert (await receive_())["type"] == "http.disconnect"  # type: ignore[operator]

    limit = BodyLimit(app, max_bytes=100, timeout_seconds=0.1)  # type: ignore[arg-type]
    anyio.run(limit, {"type": "http", "headers": []}, receive, send)
    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [200]


def test_serve_runs_uvicorn_with_the_settings_limits(indexed: ServiceSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    from service.cli import run_server

    configs: list[uvicorn.Config] = []

    class Server:
        def __init__(self, config: uvicorn.Config) -> None:
            configs.append(config)
            self.started = True

        def run(self) -> None:
            pass

    monkeypatch.setattr(uvicorn, "Server", Server)
    run_server(indexed.model_copy(update={"header_timeout_seconds": 3.5, "keep_alive_seconds": 7,
                                          "max_header_bytes": 9000, "port": 8123}))
    [config] = configs
    assert (config.port, config.timeout_keep_alive, config.h11_max_incomplete_event_size) == (8123, 7, 9000)
    assert isinstance(config.http, type) and issubclass(config.http, SlowHeadersH11Protocol)
    assert config.http.header_timeout == 3.5
