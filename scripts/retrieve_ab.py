"""Times POST /retrieve on two running servers side by side: requests alternate A, B, A, B, ... with the same
mix, one at a time, so that both see the same machine; prints p50/p95 of each and the per-pair difference.

    python scripts/retrieve_ab.py --a http://127.0.0.1:8001 --b http://127.0.0.1:8002 --mix mix.wav \
        --instrument bass --requests 40
"""

import argparse
import json
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from evaluation.latency import percentiles


def _post(client: httpx.Client, url: str, body: bytes, name: str, data: dict[str, str]) -> tuple[float, dict]:
    t0 = time.perf_counter()
    r = client.post(f"{url}/retrieve", files={"file": (name, body, "audio/wav")}, data=data)
    elapsed = (time.perf_counter() - t0) * 1000.0
    if r.status_code != 200:
        raise RuntimeError(f"{url} answered {r.status_code}: {r.text[:300]}")
    return elapsed, r.json()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--a", required=True, help="Base URL of server A (the baseline).")
    p.add_argument("--b", required=True, help="Base URL of server B.")
    p.add_argument("--mix", type=Path, required=True)
    p.add_argument("--instrument", default="bass")
    p.add_argument("--k", default="10")
    p.add_argument("--requests", type=int, default=40)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    body = args.mix.read_bytes()
    data = {"instrument": args.instrument, "k": args.k}
    ms: dict[str, list[float]] = {"A": [], "B": []}
    stages: dict[str, list[dict]] = {"A": [], "B": []}
    with httpx.Client(timeout=120.0) as client:
        for i in range(args.warmup + args.requests):
            for side, url in (("A", args.a), ("B", args.b)) if i % 2 == 0 else (("B", args.b), ("A", args.a)):
                elapsed, answer = _post(client, url, body, args.mix.name, data)
                if i >= args.warmup:
                    ms[side].append(elapsed)
                    stages[side].append(answer["timings"])
    summary: dict[str, Any] = {
        side: {**percentiles(ms[side], (50, 95)),
               "median_stages_ms": {k: float(np.median([s.get(k, 0.0) for s in stages[side]]))
                                    for k in stages[side][0]}}
        for side in ("A", "B")
    }
    summary["difference_p50_ms"] = summary["B"]["p50_ms"] - summary["A"]["p50_ms"]
    summary["ratio_p50"] = summary["B"]["p50_ms"] / summary["A"]["p50_ms"]
    summary["requests_each"] = args.requests
    print(json.dumps(summary, indent=1))
    if args.out:
        args.out.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
