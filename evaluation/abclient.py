"""The measuring side of scripts/scale_ab.py's workers, shared by every version of the code under test: the
generated mixes, the concurrent clients, the per-stage CPU clock and the command loop.

This module imports nothing of the project: scale_ab's workers load it by path (as evaluation.abclient) under
another checkout's packages (PYTHONPATH), down to 53cbbde, whose `evaluation` package has no such module; the
code under test's modules are handed to it (evaluation.servebench's workers, the one evaluation module that
imports the service).
"""

import asyncio
import io
import json
import statistics
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import numpy as np
import soundfile as sf

AB_STAGES = ("decode", "embed", "analyse", "search", "align")


def mix_wav(seconds: float, sample_rate: int = 16_000, seed: int = 0) -> bytes:
    """A generated mix (chord tones, a pulse and noise) as 16-bit WAV bytes."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    wave = sum(0.1 * np.sin(2 * np.pi * f * t) for f in (110.0, 220.0, 277.2, 329.6))
    wave = wave * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * t)) + 0.02 * rng.standard_normal(len(t))
    buf = io.BytesIO()
    sf.write(buf, wave.astype(np.float32), sample_rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def drive_clients(send: Callable[[], Awaitable[int]], clients: int, requests: int,
                  expected_results: int | None = None) -> tuple[list[float], list[str], float, float]:
    """`clients` clients through one event loop, as the app's handlers would, sending `requests` requests in
    all with `send` (a coroutine answering its result count). Returns the latencies (ms), the errors (an
    exception, no results, or another count than `expected_results`: counted, not raised), the wall seconds
    and the CPU seconds of this process."""
    remaining = requests
    ms: list[float] = []
    errors: list[str] = []

    async def client() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            t0 = time.perf_counter()
            try:
                got = await send()
                if not got or (expected_results is not None and got != expected_results):
                    errors.append(f"{got} results")
            except Exception as exc:  # counted, not raised: the load test reports errors
                errors.append(f"{type(exc).__name__}: {exc}")
            ms.append((time.perf_counter() - t0) * 1000)

    async def main() -> None:
        await asyncio.gather(*(client() for _ in range(clients)))

    c0, t0 = time.process_time(), time.perf_counter()
    asyncio.run(main())
    return ms, errors, time.perf_counter() - t0, time.process_time() - c0


def song_wav(seconds: float, seed: int, sample_rate: int = 16_000) -> bytes:
    """A generated mix that differs from other seeds' in its music, not only its noise (mix_wav's seeds give
    the same chord and pulse, hence the same query embedding and hits): a major or minor triad on one of 12
    roots, over its root an octave down, pulsing at 1-4 Hz, with noise of 0.01-0.2. 16-bit WAV bytes."""
    rng = np.random.default_rng([11, seed])
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    root = 110.0 * 2 ** (int(rng.integers(0, 12)) / 12)
    third = 3 if rng.random() < 0.5 else 4
    wave = sum(0.1 * np.sin(2 * np.pi * root * 2 ** (k / 12) * t) for k in (0, 12, 12 + third, 19))
    wave = wave * (0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(1.0, 4.0) * t))
    wave = wave + rng.uniform(0.01, 0.2) * rng.standard_normal(len(t))
    buf = io.BytesIO()
    sf.write(buf, np.clip(wave, -1, 1).astype(np.float32), sample_rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def mix_bodies(seconds: float, mixes: int) -> list[bytes]:
    """The mixes the concurrent clients send, request i the (i mod `mixes`)-th: with 1, mix_wav's seed 0 for
    every request (as before: the same hits every time); with more, song_wav's seeds 0..mixes-1, different
    music as different producers' uploads are (hence different hits, as far as the model tells them apart)."""
    if mixes < 1:
        raise ValueError(f"mixes must be >= 1, got {mixes}")
    if mixes == 1:
        return [mix_wav(seconds, seed=0)]
    return [song_wav(seconds, seed=i) for i in range(mixes)]


def simulated_stems(record: Callable[..., Any], ids: Iterable[int], instruments: Sequence[str], stem_seconds: float,
                    sample_rate: int, path_of: Callable[[int, str], str]) -> list[Any]:
    """The metadata rows of simulated catalogue stems, as `record` (the side's own indexer.catalog.StemRecord):
    stem i is instrument i mod len(instruments) of song i // len(instruments), its audio at path_of(song, inst)."""
    out = []
    for i in (int(x) for x in ids):
        inst = instruments[i % len(instruments)]
        song = i // len(instruments)
        out.append(record(i, song, f"sim/{song}", f"Song {song}", "Simulated", inst, inst, path_of(song, inst), None,
                          stem_seconds, sample_rate))
    return out


class StageClock:
    """CPU seconds per stage of the request in flight, measured without changing the code under test: the
    thread time of the decode, forward-pass and analysis calls (each runs in one thread), and the process time
    from the start of the search to the first hit's alignment (search) and from there to the end (align: hits
    may align in several threads). Only meaningful for one request at a time. Code without a query analysis
    (53cbbde: no `service.retrieval.analyse`) leaves that stage at 0."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = dict.fromkeys(AB_STAGES, 0.0)
        self._first_hit: float | None = None

    def reset(self) -> None:
        self.cpu = dict.fromkeys(AB_STAGES, 0.0)
        self._first_hit = None

    def install(self, retrieval: Any, embedder: Any) -> None:
        """Wraps the stages' functions (attributes of the code under test's service.retrieval module and
        model.embed.Embedder class, which the retriever calls) with the clocks."""
        def in_thread(stage: str, fn: Any) -> Any:
            def timed(*args: Any, **kwargs: Any) -> Any:
                c0 = time.thread_time()
                try:
                    return fn(*args, **kwargs)
                finally:
                    self.cpu[stage] += time.thread_time() - c0
            return timed

        retrieval.read_query = in_thread("decode", retrieval.read_query)
        if hasattr(retrieval, "analyse"):
            retrieval.analyse = in_thread("analyse", retrieval.analyse)
        embedder.predict = in_thread("embed", embedder.predict)
        search_and_align = retrieval.Retriever._search_and_align
        result = retrieval.Retriever._result

        def timed_search_and_align(*args: Any, **kwargs: Any) -> Any:
            c0 = time.process_time()
            self._first_hit = None
            try:
                return search_and_align(*args, **kwargs)
            finally:
                end = time.process_time()
                first = self._first_hit if self._first_hit is not None else end
                self.cpu["search"] += first - c0
                self.cpu["align"] += end - first

        def timed_result(*args: Any, **kwargs: Any) -> Any:
            if self._first_hit is None:
                self._first_hit = time.process_time()
            return result(*args, **kwargs)

        retrieval.Retriever._search_and_align = timed_search_and_align
        retrieval.Retriever._result = timed_result


def serve(commands: Any, out: Any, commit: str, retriever_of: Callable[[int], Any], params: Callable[[], Any],
          clock: StageClock, forget: Callable[[int, int | None], None] | None = None) -> None:
    """The worker's command loop: answers each JSON command read from `commands` with one JSON line on `out`.
    "retrieve": one request (size, seconds, seed; cold: `forget` first) with wall, CPU and per-stage times;
    "concurrent": clients through one event loop (size, seconds, clients, requests; mixes: how many different
    mixes, default 1; cold: `forget` first, with cache_stems its capacity) with the distinct stems answered;
    "load": the retriever of a size; "quit". `retriever_of(size)` gives the code under test's Retriever,
    `params()` its RetrieveParams of one request, and `forget(size, capacity)` empties what a version keeps
    between requests beyond the page cache (53cbbde's signature LRU; capacity None: the setting's)."""

    def cold(cmd: dict[str, Any]) -> None:
        if cmd.get("cold") and forget is not None:
            forget(cmd["size"], cmd.get("cache_stems"))

    def retrieve(cmd: dict[str, Any]) -> dict[str, Any]:
        retriever = retriever_of(cmd["size"])
        body = mix_wav(cmd["seconds"], seed=cmd["seed"])
        cold(cmd)
        clock.reset()
        c0, t0 = time.process_time(), time.perf_counter()
        resp = asyncio.run(retriever.retrieve(body, "mix.wav", "audio/wav", params()))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        timings = resp.timings.model_dump()
        return {"wall_ms": wall * 1000, "cpu_ms": cpu * 1000, "results": len(resp.results),
                "stage_ms": {s: timings.get(f"{s}_ms", 0.0) for s in AB_STAGES},
                "stage_cpu_ms": {s: v * 1000 for s, v in clock.cpu.items()},
                "offsets": [r.offset_seconds for r in resp.results], "stems": [r.stem_id for r in resp.results]}

    def concurrent(cmd: dict[str, Any]) -> dict[str, Any]:
        retriever = retriever_of(cmd["size"])
        bodies = mix_bodies(cmd["seconds"], cmd.get("mixes", 1))
        sent = 0
        stems: set[int] = set()

        async def send() -> int:
            nonlocal sent
            body = bodies[sent % len(bodies)]
            sent += 1
            resp = await retriever.retrieve(body, "mix.wav", "audio/wav", params())
            stems.update(r.stem_id for r in resp.results)
            return len(resp.results)

        cold(cmd)
        ms, errors, seconds, cpu = drive_clients(send, cmd["clients"], cmd["requests"], expected_results=10)
        return {"requests": len(ms), "mixes": len(bodies), "distinct_stems": len(stems),
                "cache_stems": cmd.get("cache_stems"), "errors": len(errors), "error_samples": errors[:3],
                "seconds": seconds, "requests_per_s": len(ms) / seconds,
                "cpu_ms_per_request": cpu * 1000 / max(len(ms), 1), "p50_ms": statistics.median(ms),
                "p95_ms": float(np.percentile(ms, 95))}

    def load(cmd: dict[str, Any]) -> dict[str, Any]:
        retriever_of(cmd["size"])
        return {}

    ops = {"retrieve": retrieve, "concurrent": concurrent, "load": load}
    out.write(json.dumps({"ready": True, "commit": commit}) + "\n")
    out.flush()
    for line in commands:
        cmd = json.loads(line)
        if cmd["op"] == "quit":
            break
        out.write(json.dumps(ops[cmd["op"]](cmd)) + "\n")
        out.flush()
