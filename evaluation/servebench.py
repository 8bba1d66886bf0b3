"""End-to-end `/retrieve` latency: the real FastAPI app and retriever in-process, over a synthetic
catalogue of clustered vectors (the size sweep needs no audio), queried with generated 10 s / 30 s mixes.

scripts/scale_ab.py loads this module by path under older checkouts' packages (down to 53cbbde, whose
`evaluation` has neither faissbench nor latency): what those lack is imported where it is used."""

import logging
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from evaluation.abclient import StageClock, drive_clients, mix_wav, serve, simulated_stems
from evaluation.bench import BenchPlan, random_model
from model.embed import Embedder

log = logging.getLogger(__name__)

STEM_SECONDS = 30.0  # length of every synthetic catalogue stem (its frame sequence)
FRAME_POOL = 16  # distinct frame sequences shared by the synthetic stems


def _features(n: int, seed: int) -> np.ndarray:
    """Analysis feature rows of n synthetic stems: a tempo of 60-180 BPM, the key profile of a random
    pitch-class summary, a random folded tempogram (analysis.music.FEATURES layout)."""
    from analysis.chroma import centred_unit
    from analysis.key import key_profile
    from analysis.music import FEATURES

    rng = np.random.default_rng([7, seed])
    chroma = rng.random((n, 12))
    rows = np.zeros((n, FEATURES.width), np.float32)
    rows[:, FEATURES.column("bpm")] = rng.uniform(60, 180, n)
    rows[:, FEATURES.key_slice] = key_profile(chroma)
    rows[:, FEATURES.chroma_slice] = centred_unit(chroma)
    gram = rng.standard_normal((n, FEATURES.tempogram_slice.stop - FEATURES.tempogram_slice.start))
    rows[:, FEATURES.tempogram_slice] = gram / np.linalg.norm(gram, axis=1, keepdims=True)
    return rows


class SyntheticCatalogue:
    """The read side of indexer.catalog.Catalogue (and of its one build, `current()`) that the retriever uses,
    over n stems: clustered unit vectors in one exact inner-product index per instrument, and frame sequences
    drawn from a small pool. Songs hold one stem per instrument."""

    number = 0  # the build number a real catalogue's build has

    def __init__(
        self, n: int, dim: int, frame_dim: int, instruments: Sequence[str], frames_per_stem: int, seed: int = 0
    ) -> None:
        from evaluation.faissbench import clustered_vectors
        from indexer import vectors

        self._vectors = vectors
        self.instruments = list(instruments)
        data = clustered_vectors(n, dim, seed=seed)
        ids = np.arange(n, dtype=np.int64)
        inst_of = ids % len(self.instruments)
        self.indexes = {}
        for i, name in enumerate(self.instruments):
            index = vectors.new_flat(dim)
            vectors.add(index, ids[inst_of == i], data[inst_of == i])
            self.indexes[name] = index
        self.data = data
        self.features = _features(n, seed)
        rng = np.random.default_rng(seed)
        pool = rng.standard_normal((FRAME_POOL, frames_per_stem, frame_dim)).astype(np.float32)
        self.pool = pool / np.linalg.norm(pool, axis=-1, keepdims=True)
        self.n = n

    def current(self) -> "SyntheticCatalogue":
        return self

    def stem_ids_of_songs(self, song_ids: Sequence[int]) -> np.ndarray:
        return np.zeros(0, np.int64)  # the benchmark excludes no songs

    def size(self, instrument: str | None = None) -> int:
        if instrument is None:
            return self.n
        index = self.indexes.get(instrument)
        return int(index.ntotal) if index is not None else 0

    def search(
        self, vector: np.ndarray, k: int, instrument: str | None = None, exclude_ids: np.ndarray | None = None
    ) -> list[Any]:
        from indexer.catalog import Hit

        hits = []
        for name in [instrument] if instrument is not None else self.instruments:
            scores, ids = self._vectors.search(self.indexes[name], vector.reshape(1, -1), k)
            hits += [Hit(int(i), float(s)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0]
        return sorted(hits, key=lambda h: -h.score)[:k]

    def frames(self, stem_id: int) -> np.ndarray:
        return self.pool[stem_id % FRAME_POOL]

    def stem(self, stem_id: int) -> Any:
        from indexer.catalog import StemRecord

        inst = self.instruments[stem_id % len(self.instruments)]
        song = stem_id // len(self.instruments)
        return StemRecord(
            stem_id,
            song,
            f"synthetic/{song}",
            f"Song {song}",
            "Synthetic",
            inst,
            inst,
            f"synthetic/{song}/{inst}.flac",
            None,
            STEM_SECONDS,
            16_000,
        )

    def stems(self, ids: Iterable[int]) -> list[Any]:
        return [self.stem(int(i)) for i in ids]

    def analysis_rows(self, ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        idx = np.asarray(ids, dtype=np.int64)
        return self.features[idx], np.ones(len(idx), dtype=bool)

    def analysed_stems(self, instrument: str | None = None,
                       exclude_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        ids = np.arange(self.n, dtype=np.int64)
        if instrument is not None:
            ids = ids[ids % len(self.instruments) == self.instruments.index(instrument)]
        return ids, self.features[ids]

    def musical_candidates(self, instrument: str | None = None,
                           exclude_ids: np.ndarray | None = None) -> tuple[np.ndarray, Any]:
        from analysis.compatibility import prepare

        ids, rows = self.analysed_stems(instrument, exclude_ids)
        return ids, prepare(rows)

    def scores_of(self, vector: np.ndarray, stem_ids: Sequence[int], instrument: str | None = None) -> dict[int, float]:
        return {int(i): float(self.data[int(i)] @ vector) for i in stem_ids}

    def signature(self, stem_id: int, stretch: float = 1.0) -> None:
        """Synthetic stems have no audio, hence no alignment signature."""
        return None


def retrieve_latency(plan: BenchPlan, device: torch.device) -> list[dict[str, Any]]:
    """p50/p95/p99 of POST /retrieve (k=10, instrument filter on, onset refinement off: synthetic stems have
    no audio) per catalogue size and mix length, with the server's own stage timings."""
    httpx_log = logging.getLogger("httpx")
    level = httpx_log.level
    httpx_log.setLevel(logging.WARNING)  # one INFO line per request would drown the benchmark's own log
    try:
        return _latency_rows(plan, device)
    finally:
        httpx_log.setLevel(level)


def _latency_rows(plan: BenchPlan, device: torch.device) -> list[dict[str, Any]]:
    from fastapi.testclient import TestClient

    from evaluation.latency import percentiles
    from service.app import create_app
    from service.metrics import Metrics
    from service.runtime import Runtime
    from service.settings import load_settings

    embedder = Embedder(random_model(plan.serve_model), device)
    frames_per_stem = int(STEM_SECONDS / embedder.frame_seconds)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            refine_top=0, load_in_background=False, cache_dir=Path(tmp) / "cache", batch_wait_ms=0.0, api_keys=[]
        )
        for n in plan.catalogue_sizes:
            catalogue = SyntheticCatalogue(
                n, embedder.dim, embedder.frame_dim, embedder.vocabulary.names, frames_per_stem
            )
            runtime = Runtime(settings, Metrics())
            # Duck-typed: the retriever reads only current/size/search/stems/frames/analysis_rows/signature.
            runtime.attach(embedder, catalogue)  # type: ignore[arg-type]
            with TestClient(create_app(settings, runtime)) as client:
                for seconds in plan.mix_seconds:
                    body = mix_wav(seconds)
                    ms, stages = [], []
                    for i in range(plan.requests + 1):  # the first request warms up
                        t0 = time.perf_counter()
                        resp = client.post(
                            "/retrieve",
                            files={"file": ("mix.wav", body, "audio/wav")},
                            data={"instrument": embedder.vocabulary.names[0], "k": "10"},
                        )
                        elapsed = (time.perf_counter() - t0) * 1000
                        if resp.status_code != 200:
                            raise RuntimeError(f"/retrieve answered {resp.status_code}: {resp.text[:300]}")
                        if i:
                            ms.append(elapsed)
                            stages.append(resp.json()["timings"])
                    row = {
                        "catalogue": n,
                        "mix_seconds": seconds,
                        "requests": plan.requests,
                        **percentiles(ms),
                    }
                    for stage in ("decode_ms", "embed_ms", "analyse_ms", "search_ms", "align_ms"):
                        row[f"median_{stage}"] = float(np.median([s[stage] for s in stages]))
                    row["embed_share"] = row["median_embed_ms"] / row["p50_ms"]
                    rows.append(row)
                    log.info("/retrieve %d stems, %.0f s mix: p50 %.0f ms", n, seconds, row["p50_ms"])
            del catalogue
    return rows


# ---- at catalogue scale: the real on-disk format, cold and warm, old path beside the new ------------------------

SCALE_VARIANTS: dict[str, tuple[str, int]] = {  # name -> (store format, intra-op threads)
    "old": ("int8", 1),  # format 2 packs (8-bit rows), STEMJEPA_THREADS=1
    "new": ("format3", 1),  # format 3 packs (indexer.codecs), STEMJEPA_THREADS=1 (today's defaults)
}


class ScaleCatalogue:
    """The part of indexer.catalog.Catalogue the retriever reads beside its build: a real `Build` loaded from a
    simulated catalogue folder (evaluation.scalecat), with made-up metadata records instead of SQL."""

    def __init__(self, build: Any, instruments: Sequence[str], stem_seconds: float) -> None:
        self.build = build
        self.instruments = list(instruments)
        self.stem_seconds = stem_seconds

    def current(self) -> Any:
        return self.build

    def size(self, instrument: str | None = None) -> int:
        return int(self.build.size(instrument))

    def stem_ids_of_songs(self, song_ids: Sequence[int]) -> np.ndarray:
        return np.zeros(0, np.int64)

    def stems(self, ids: Iterable[int]) -> list[Any]:
        from indexer.catalog import StemRecord

        return simulated_stems(StemRecord, ids, self.instruments, self.stem_seconds, 44_100,
                               lambda song, inst: f"sim/{song}/{inst}.flac")


def scale_latency(plan: BenchPlan, device: torch.device, root: Path | None = None) -> dict[str, Any]:
    """/retrieve (Retriever.retrieve in-process, default settings: fused ranking, all k=10 hits aligned with
    the fusion) over simulated catalogues of plan.scale_sizes stems in the real on-disk format, per mix length,
    cold (every pack file dropped from the page cache before the request) and warm (the same request again),
    the old and the new variant (SCALE_VARIANTS) interleaved request by request; then plan.scale_clients
    concurrent clients at plan.scale_concurrent_size stems."""
    if root is None:
        with tempfile.TemporaryDirectory() as tmp:
            return scale_latency(plan, device, Path(tmp))
    import asyncio

    from evaluation import scalecat
    from evaluation.bench import bench_embedder  # here: the A/B workers load this module under older packages
    from evaluation.faissbench import clustered_vectors
    from evaluation.latency import percentiles
    from indexer.snapshot import Build
    from model.threads import limit_threads
    from service.metrics import Metrics
    from service.retrieval import RetrieveParams
    from service.runtime import Runtime
    from service.settings import load_settings

    embedder = bench_embedder(plan.scale_model, device)
    instruments = embedder.vocabulary.names
    lay = scalecat.layout(plan.scale_stem_seconds, embedder.frame_seconds)
    rows = scalecat.real_rows(plan.scale_source, embedder.sample_rate, plan.scale_stem_seconds)
    settings = load_settings(load_in_background=False, cache_dir=root / "cache", batch_wait_ms=0.0, api_keys=[])
    pool = {fmt: scalecat.write_pool(root, rows, plan.scale_pool, embedder.frame_dim, lay, fmt)
            for fmt, _ in SCALE_VARIANTS.values()}
    out: dict[str, Any] = {"simulated": scalecat.__doc__, "real_rows": rows.names, "pool": plan.scale_pool,
                           "stem_seconds": plan.scale_stem_seconds, "variants": SCALE_VARIANTS, "latency": [],
                           "concurrent": [], "pack_bytes_per_stem": {}}
    sizes = sorted(set(plan.scale_sizes) | {plan.scale_concurrent_size})
    for n in sizes:
        data = clustered_vectors(n, embedder.dim, seed=n)
        vector_dir = root / f"vectors-{n}"
        scalecat.write_vectors(vector_dir, data, instruments)
        features = _features(n, n)
        runtimes, folders = {}, {}
        for name, (fmt, _) in SCALE_VARIANTS.items():
            folder = scalecat.write_catalogue(root, n, fmt, pool[fmt], embedder.dim, embedder.frame_dim, instruments,
                                              features, vector_dir)
            runtime = Runtime(settings, Metrics())
            runtime.attach(embedder, ScaleCatalogue(Build.load(folder), instruments,  # type: ignore[arg-type]
                                                    plan.scale_stem_seconds))
            runtimes[name], folders[name] = runtime, folder
            out["pack_bytes_per_stem"][fmt] = scalecat.pack_bytes(folder, n, min(n, plan.scale_pool))

        def call(name: str, body: bytes, runtimes: dict[str, Any] = runtimes) -> tuple[float, float, dict[str, float]]:
            limit_threads(SCALE_VARIANTS[name][1])
            retriever = runtimes[name].retriever
            assert retriever is not None
            params = RetrieveParams(instrument=instruments[0], k=10)
            c0, t0 = time.process_time(), time.perf_counter()
            resp = asyncio.run(retriever.retrieve(body, "mix.wav", "audio/wav", params))
            wall, cpu = (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000
            return wall, cpu, resp.timings.model_dump()

        if n in plan.scale_sizes:
            for seconds in plan.scale_mix_seconds:
                call("new", mix_wav(seconds, seed=999))  # warm-up: model, allocator, imports
                got: dict[tuple[str, str], list[tuple[float, float, dict[str, float]]]] = {}
                for rep in range(plan.scale_requests):
                    body = mix_wav(seconds, seed=rep)
                    order = list(SCALE_VARIANTS) if rep % 2 == 0 else list(SCALE_VARIANTS)[::-1]
                    for name in order:
                        scalecat.drop_cached(folders[name])
                        got.setdefault((name, "cold"), []).append(call(name, body))
                        got.setdefault((name, "warm"), []).append(call(name, body))
                for (name, temp), runs in got.items():
                    row = {"catalogue": n, "mix_seconds": seconds, "variant": name, "format": SCALE_VARIANTS[name][0],
                           "threads": SCALE_VARIANTS[name][1], "cache": temp, "requests": len(runs),
                           **percentiles([r[0] for r in runs]), "median_cpu_ms": float(np.median([r[1] for r in runs]))}
                    for stage in ("decode_ms", "embed_ms", "analyse_ms", "search_ms", "align_ms"):
                        row[f"median_{stage}"] = float(np.median([r[2][stage] for r in runs]))
                    out["latency"].append(row)
                    log.info("scale %d stems, %.0f s mix, %s %s: p50 %.0f ms", n, seconds, name, temp, row["p50_ms"])
        if n == plan.scale_concurrent_size and plan.scale_clients:
            body = mix_wav(plan.scale_concurrent_mix_seconds, seed=0)
            for name in SCALE_VARIANTS:
                out["concurrent"].append({"catalogue": n, "variant": name, "clients": plan.scale_clients,
                                          **_concurrent(runtimes[name], name, body, instruments[0], plan)})
        for runtime in runtimes.values():
            runtime.close()
    return out


def _concurrent(runtime: Any, name: str, body: bytes, instrument: str, plan: BenchPlan) -> dict[str, Any]:
    """plan.scale_clients clients sending plan.scale_concurrent_requests requests in all (drive_clients);
    throughput, latency percentiles and errors."""
    from evaluation.latency import percentiles
    from model.threads import limit_threads
    from service.retrieval import RetrieveParams

    limit_threads(SCALE_VARIANTS[name][1])

    async def send() -> int:
        resp = await runtime.retriever.retrieve(body, "mix.wav", "audio/wav", RetrieveParams(instrument, 10))
        return len(resp.results)

    ms, errors, seconds, cpu = drive_clients(send, plan.scale_clients, plan.scale_concurrent_requests)
    return {"requests": len(ms), "errors": len(errors), "error_samples": errors[:3], "seconds": seconds,
            "requests_per_s": len(ms) / seconds, "cpu_s_per_request": cpu / max(len(ms), 1), **percentiles(ms)}


# ---- two versions of the code side by side (scripts/scale_ab.py runs this in each side's process) ---------------

def ab_embedder(model: str) -> Embedder:
    """The A/B workers' embedder: "shipped", the bundled checkpoint as the service loads it (Embedder.from_checkpoint,
    with whatever that side's code derives from it: since the frozen query predictor, model.querypredictor, the
    speed of a query depends on the checkpoint's units); otherwise a model of that size with random weights."""
    if model == "shipped":
        return Embedder.from_checkpoint(None, device="cpu")
    return Embedder(random_model(model), torch.device("cpu"))


def ab_worker(root: Path, model: str, stem_seconds: float, commands: Any, out: Any, commit: str,
              store: str = "int8") -> None:
    """One side of scripts/scale_ab.py: the model (random weights), the service's default settings and threads,
    one runtime per simulated catalogue root/cat-<n>-<store>, serving the driver's commands (abclient.serve)."""
    import os

    import service.retrieval
    from indexer.snapshot import Build
    from model.threads import limit_threads
    from service.metrics import Metrics
    from service.retrieval import RetrieveParams
    from service.runtime import Runtime
    from service.settings import load_settings

    logging.basicConfig(level=logging.WARNING)
    clock = StageClock()
    clock.install(service.retrieval, Embedder)
    settings = load_settings(load_in_background=False, cache_dir=root / f"cache-{os.getpid()}", api_keys=[])
    limit_threads(settings.threads)  # as the server's entry point does
    embedder = ab_embedder(model)
    instrument = embedder.vocabulary.names[0]
    runtimes: dict[int, Any] = {}

    def retriever_of(n: int) -> Any:
        if n not in runtimes:
            rt = Runtime(settings, Metrics())
            catalogue = ScaleCatalogue(Build.load(root / f"cat-{n}-{store}"), embedder.vocabulary.names, stem_seconds)
            rt.attach(embedder, catalogue)  # type: ignore[arg-type]  # duck-typed: what the retriever reads
            runtimes[n] = rt
        return runtimes[n].retriever

    try:
        serve(commands, out, commit, retriever_of, lambda: RetrieveParams(instrument=instrument, k=10), clock)
    finally:
        for rt in runtimes.values():
            rt.close()


def legacy_ab_worker(root: Path, model: str, commands: Any, out: Any, commit: str) -> None:
    """Side A of scripts/scale_ab.py --legacy, run under 53cbbde's packages: its Runtime (its MicroBatcher and
    Retriever, wired by its `attach`) with its default settings and the libraries' own thread counts (it set
    none), the model `model` (ab_embedder), one runtime per
    root/legacy-<n> (evaluation.legacyab.LegacyCatalogue); "cold" empties its signature LRU."""
    import os

    import service.retrieval
    from evaluation.legacyab import LegacyCatalogue
    from service.metrics import Metrics
    from service.retrieval import RetrieveParams
    from service.runtime import Runtime
    from service.settings import load_settings

    logging.basicConfig(level=logging.WARNING)
    clock = StageClock()
    clock.install(service.retrieval, Embedder)
    # Any: 53cbbde's ServiceSettings, not this checkout's (signature_cache_stems is gone since)
    settings: Any = load_settings(load_in_background=False, cache_dir=root / f"cache-{os.getpid()}", api_keys=[])
    embedder = ab_embedder(model)
    instrument = embedder.vocabulary.names[0]
    runtimes: dict[int, Any] = {}

    def retriever_of(n: int) -> Any:
        if n not in runtimes:
            rt = Runtime(settings, Metrics())
            rt.attach(embedder, LegacyCatalogue(root / f"legacy-{n}"))  # type: ignore[arg-type]  # duck-typed
            runtimes[n] = rt
        return runtimes[n].retriever

    def forget(n: int, capacity: int | None) -> None:
        """A fresh signature LRU holding no hit's signature, of `capacity` stems (None: the setting's, 256; 0:
        none kept, every hit decoded, as when concurrent producers' hits do not repeat)."""
        retriever = retriever_of(n)
        size = settings.signature_cache_stems if capacity is None else capacity
        retriever.signatures = type(retriever.signatures)(embedder, size)

    try:
        serve(commands, out, commit, retriever_of, lambda: RetrieveParams(instrument=instrument, k=10), clock, forget)
    finally:
        for rt in runtimes.values():
            rt.close()
