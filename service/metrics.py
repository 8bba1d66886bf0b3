"""Prometheus metrics of one app instance, in their own registry (so several apps can live in one process)."""

import time
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.requests import Request
from starlette.responses import Response

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """Request counts and latencies per route, retrieval stage timings, batch sizes, catalogue size."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "stemjepa_http_requests_total",
            "HTTP requests by route, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "stemjepa_http_request_seconds",
            "HTTP request latency by route.",
            ["route", "method"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge("stemjepa_http_requests_in_flight", "Requests being served.", registry=self.registry)
        self.stage = Histogram(
            "stemjepa_retrieve_stage_seconds",
            "Time per retrieval stage.",
            ["stage"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "stemjepa_embed_batch_size",
            "Queries per embedding batch.",
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "stemjepa_embed_batch_seconds",
            "Time per embedding batch.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.catalogue_stems = Gauge(
            "stemjepa_catalogue_stems", "Stems in the loaded catalogue.", registry=self.registry
        )
        self.ready = Gauge("stemjepa_ready", "1 when model and index are loaded.", registry=self.registry)
        self.errors = Counter("stemjepa_errors_total", "Error answers by code.", ["code"], registry=self.registry)

    def observe_batch(self, size: int, seconds: float) -> None:
        self.batch_size.observe(size)
        self.batch_seconds.observe(seconds)


def route_name(request: Request) -> str:
    """The matched route's path template (`/stems/{stem_id}`), so ids never become label values."""
    route = request.scope.get("route")
    return str(getattr(route, "path", "unmatched"))


def metrics_middleware(
    metrics: Metrics,
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    async def middleware(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        metrics.in_flight.inc()
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            metrics.in_flight.dec()
            route = route_name(request)
            metrics.latency.labels(route, request.method).observe(time.perf_counter() - started)
            metrics.requests.labels(route, request.method, str(status)).inc()

    return middleware
