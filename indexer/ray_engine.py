"""Ray engine: the same decode, analyse and embed stages as the local engine, as Ray Data `map_batches` stages.

Decoding and analysis run as CPU tasks over files; embedding runs in an actor pool (one Embedder per actor, on a GPU
each when the cluster has them); the driver receives the outcomes and commits them with the same writer,
so the commit protocol and the index directory stay on the driver (a volume shared by the cluster is not
needed for the index, only for the catalogue's audio). Connects to RAY_ADDRESS when set, else starts a
local instance.
"""

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from analysis.music import FEATURES, StoredAnalysis
from indexer.decode import FileTask, decode_file
from indexer.errors import IndexerError
from indexer.pipeline import Outcome
from indexer.settings import IndexerSettings
from model.checkpoint import default_checkpoint_path
from model.embed import Embedder

log = logging.getLogger(__name__)


_ANALYSIS_COLUMNS = ("features", "onsets", "chroma", "beats")
_RAGGED = ("wave", "frames", "onsets", "chroma", "beats")
_EMPTY_ANALYSIS = {"features": np.zeros(FEATURES.width, np.float32), "onsets": np.zeros((0, 5), np.float16),
                   "chroma": np.zeros((0, 12), np.float16), "beats": np.zeros((0, 1), np.float32)}


def decode_batch(batch: dict[str, np.ndarray], sample_rate: int) -> dict[str, Any]:
    """Ray stage: files -> one row per stem with its analysis (wave empty and `error` set when decoding
    failed; wave empty and `embed` False for a stem that is only analysed)."""
    columns = ("stem_id", "wave", "error", "sha256", "duration", "sample_rate", "embed", "analysed",
               *_ANALYSIS_COLUMNS)
    rows: dict[str, list[Any]] = {k: [] for k in columns}
    for path, ids, streams, embed in zip(batch["path"], batch["stem_ids"], batch["streams"], batch["embed"],
                                         strict=True):
        stems = tuple((int(i), None if s < 0 else int(s)) for i, s in zip(ids, streams, strict=True))
        only = frozenset(int(i) for i, e in zip(ids, embed, strict=True) if not e)
        for d in decode_file(FileTask(str(path), stems, only), sample_rate):
            rows["stem_id"].append(d.stem_id)
            rows["wave"].append(d.wave if d.wave is not None else np.zeros(0, np.float32))
            rows["error"].append(d.error or "")
            rows["sha256"].append(d.sha256 or "")
            rows["duration"].append(d.duration_seconds)
            rows["sample_rate"].append(d.sample_rate)
            rows["embed"].append(d.embed)
            rows["analysed"].append(d.analysis is not None)
            for name in _ANALYSIS_COLUMNS:
                rows[name].append(getattr(d.analysis, name) if d.analysis is not None else _EMPTY_ANALYSIS[name])
    return {k: v if k in _RAGGED else np.array(v) for k, v in rows.items()}


class EmbedActor:
    """Ray stage: decoded rows -> vectors and frames, with one Embedder loaded per actor."""

    def __init__(self, checkpoint: str, device: str, checkpoint_hash: str) -> None:
        self.embedder = Embedder.from_checkpoint(checkpoint, device)
        if self.embedder.checkpoint_hash != checkpoint_hash:
            raise IndexerError(f"{checkpoint} on this worker differs from the driver's checkpoint")

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        ok = [i for i, (e, embed) in enumerate(zip(batch["error"], batch["embed"], strict=True)) if not e and embed]
        waves = [np.asarray(batch["wave"][i], np.float32) for i in ok]
        embs = dict(zip(ok, self.embedder.embed_stems(waves), strict=True))
        n, dim, fdim = len(batch["stem_id"]), self.embedder.dim, self.embedder.frame_dim
        passed = ("stem_id", "error", "sha256", "duration", "sample_rate", "embed", "analysed", *_ANALYSIS_COLUMNS)
        return {
            **{k: batch[k] for k in passed},
            "vector": np.stack([embs[i].vector if i in embs else np.zeros(dim, np.float32) for i in range(n)]),
            "frames": [embs[i].frames if i in embs else np.zeros((0, fdim), np.float32) for i in range(n)],
        }


def _checkpoint(settings: IndexerSettings) -> Path:
    path = Path(settings.checkpoint) if settings.checkpoint is not None else default_checkpoint_path()
    if not path.is_file():
        raise IndexerError(f"the ray engine loads the model from a checkpoint file on each worker; {path} is missing")
    return path.resolve()


def run_ray(tasks: list[FileTask], settings: IndexerSettings, embedder: Embedder) -> Iterator[Outcome]:
    """Outcomes of embedding `tasks` on Ray Data (the driver's `embedder` only supplies model facts)."""
    import ray

    if not tasks:
        return
    if not ray.is_initialized():
        ray.init(num_cpus=max(2, settings.workers + 1), include_dashboard=False, log_to_driver=False)
    gpus = 1 if embedder.device.type == "cuda" else 0
    items = [{"path": t.path, "stem_ids": [s for s, _ in t.stems],
              "streams": [-1 if st is None else st for _, st in t.stems],
              "embed": [s not in t.analyse_only for s, _ in t.stems]} for t in tasks]
    ds: Any = ray.data.from_items(items)
    ds = ds.map_batches(decode_batch, batch_size=1, fn_kwargs={"sample_rate": embedder.sample_rate},
                        batch_format="numpy", num_cpus=1)
    ds = ds.map_batches(
        EmbedActor, batch_size=settings.batch_size, batch_format="numpy", num_gpus=gpus,
        num_cpus=0 if gpus else 1, concurrency=settings.ray_actors,
        fn_constructor_kwargs={"checkpoint": str(_checkpoint(settings)), "device": str(embedder.device),
                               "checkpoint_hash": embedder.checkpoint_hash},
    )
    for row in ds.iter_rows():
        error = str(row["error"]) or None
        embedded = bool(row["embed"])
        analysis = None
        if not error and bool(row["analysed"]):
            analysis = StoredAnalysis(*(np.asarray(row[name]) for name in _ANALYSIS_COLUMNS))
        keep = not error and embedded
        yield Outcome(int(row["stem_id"]), np.asarray(row["vector"], np.float32) if keep else None,
                      np.asarray(row["frames"], np.float32) if keep else None, error,
                      str(row["sha256"]) or None, float(row["duration"]), int(row["sample_rate"]), analysis, embedded)
