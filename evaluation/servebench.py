"""End-to-end `/retrieve` latency: the real FastAPI app and retriever in-process, over a synthetic
catalogue of clustered vectors (the size sweep needs no audio), queried with generated 10 s / 30 s mixes."""

import io
import logging
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch

from evaluation.bench import BenchPlan, random_model
from evaluation.faissbench import clustered_vectors
from evaluation.latency import percentiles
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

    def scores_of(self, vector: np.ndarray, stem_ids: Sequence[int], instrument: str | None = None) -> dict[int, float]:
        return {int(i): float(self.data[int(i)] @ vector) for i in stem_ids}

    def signature(self, stem_id: int) -> None:
        """Synthetic stems have no audio, hence no alignment signature."""
        return None


def mix_wav(seconds: float, sample_rate: int = 16_000, seed: int = 0) -> bytes:
    """A generated mix (chord tones, a pulse and noise) as 16-bit WAV bytes."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    wave = sum(0.1 * np.sin(2 * np.pi * f * t) for f in (110.0, 220.0, 277.2, 329.6))
    wave = wave * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * t)) + 0.02 * rng.standard_normal(len(t))
    buf = io.BytesIO()
    sf.write(buf, wave.astype(np.float32), sample_rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


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
