"""Load test: N concurrent clients POST the same mix to /retrieve until a request budget is spent.

    python -m service.loadtest --url http://127.0.0.1:8000 --file mix.wav --instrument bass --clients 50 --requests 500

Prints latency percentiles, throughput and errors, with the server's catalogue size and model size.
"""

import argparse
import asyncio
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx


@dataclass
class LoadReport:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def percentile(self, q: float) -> float:
        data = sorted(self.latencies_ms)
        if not data:
            return float("nan")
        return data[min(len(data) - 1, max(0, round(q / 100 * (len(data) - 1))))]

    def summary(self) -> str:
        info = self.info
        return (f"{self.requests} requests, {self.errors} errors, {self.requests / self.seconds:.1f} req/s; "
                f"latency p50 {self.percentile(50):.0f} ms, p95 {self.percentile(95):.0f} ms, "
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--file", type=Path, required=True, help="Mix to upload.")
    parser.add_argument("--instrument", default="bass")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()
    report = asyncio.run(run_load(args.url, args.file.read_bytes(), args.file.name, args.instrument, args.clients,
                                  args.requests, args.k))
    print(report.summary())
    for sample in report.error_samples:
        print("error:", sample)
    raise SystemExit(1 if report.errors else 0)


if __name__ == "__main__":
    main()
