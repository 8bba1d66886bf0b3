"""Load test of a running server: N concurrent clients POST the same mix to /retrieve until a request budget is
spent (`stemjepa loadtest`); latency percentiles, throughput and errors, with the server's catalogue and model.

    stemjepa loadtest --url http://127.0.0.1:8000 --file mix.wav --instrument bass --clients 50 --requests 500
"""

import asyncio
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from evaluation.latency import percentiles


@dataclass
class LoadReport:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        info = self.info
        p = percentiles(self.latencies_ms)
        return (f"{self.requests} requests, {self.errors} errors, {self.requests / self.seconds:.1f} req/s; "
                f"latency p50 {p['p50_ms']:.0f} ms, p95 {p['p95_ms']:.0f} ms, p99 {p['p99_ms']:.0f} ms, "
                f"mean {statistics.fmean(self.latencies_ms or [0]):.0f} ms; catalogue {info.get('index_size')} stems, "
                f"model {info.get('model')} ({info.get('parameters')} parameters) on {info.get('device')}")


async def run_load(url: str, audio: bytes, filename: str, instrument: str, clients: int = 50,
                   requests: int = 200, k: int = 10, timeout: float = 120.0) -> LoadReport:
    """Runs `requests` POST /retrieve calls spread over `clients` concurrent connections."""
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    report = LoadReport(requests=requests, errors=0, seconds=0.0)
    remaining = requests

    async def client_loop(http: httpx.AsyncClient) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            try:
                r = await http.post("/retrieve", files={"file": (filename, audio, "application/octet-stream")},
                                    data={"instrument": instrument, "k": str(k)})
                ok = r.status_code == 200 and len(r.json()["results"]) > 0
                detail = f"{r.status_code} {r.text[:200]}"
            except httpx.HTTPError as exc:
                ok, detail = False, f"{type(exc).__name__}: {exc}"
            report.latencies_ms.append((time.perf_counter() - started) * 1000.0)
            if not ok:
                report.errors += 1
                if len(report.error_samples) < 5:
                    report.error_samples.append(detail)

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=timeout) as http:
        report.info = (await http.get("/info")).json()
        started = time.perf_counter()
        await asyncio.gather(*(client_loop(http) for _ in range(clients)))
        report.seconds = time.perf_counter() - started
    return report
