"""The Embedder: the one audio -> vector path used by training validation, the indexer, the service and eval.

Audio of any length is cut into 8 s windows (the encoder's input), whose patch embeddings are joined in
time, one frame per 160 ms. From the joined [T, F, D] embeddings come
- a pooled vector: time-mean with the F frequency rows concatenated, layer-normed, L2-normalised [F * D];
- a frame sequence: each time step's rows concatenated, layer-normed, projected to a compact width by a
  fixed orthonormal projection and L2-normalised [T, frame_dim], for alignment by cross-correlation.
A stem is embedded by an encoder (the EMA target encoder by default); a query is the predictor's output
for a mix and an instrument, pooled the same way.
"""

import logging
from collections.abc import Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from model.audio import Source, load_mono
from model.checkpoint import (
    build_model,
    default_checkpoint_path,
    load_checkpoint,
    load_query_centres,
    query_centres_path,
)
from model.config import ModelConfig
from model.files import file_sha256
from model.instruments import InstrumentVocabulary
from model.jepa import StemJEPA, pooled
from model.predictor import MLPPredictor
from model.querypredictor import LiveUnits, QueryPredictor, units_path

log = logging.getLogger(__name__)

# Bumped whenever pooling or framing changes, so indexes built by older code are refused.
EMBEDDING_VERSION = 1

Encoder = Literal["context", "target"]

# Arithmetic on a GPU (a CPU always computes in float32): bf16 autocast (the matrix units' fast path),
# tf32 (float32 storage, tensor-core products with a 10-bit mantissa) or fp32 (strict float32 products).
# fp32 is the default: measured on an H200 (scripts/device_embed_check.py, MODEL_CARD.md), a catalogue
# embedded in bf16 moved the true stem's rank for 8 % of CPU-embedded queries (tf32: 0.3 %, fp32: none),
# and the compact model ran no faster in bf16 (24-30 k audio-s/s in each): the service's CPU queries and a
# GPU-built catalogue then compute the same function.
Precision = Literal["bf16", "tf32", "fp32"]
PRECISIONS: tuple[Precision, ...] = ("bf16", "tf32", "fp32")

# Forward passes run side by side (`threads` > 1) only for up to this many 8 s windows (about 4 minutes of
# audio): each thread's activations and allocator arena add to the peak memory, which for the longest upload
# the service accepts grew from +261 to +355-387 MiB (tests/service/test_memory.py bounds it at 330); beyond a
# few minutes the query's analysis and alignment take longer than its embedding anyway.
PARALLEL_MAX_WINDOWS = 32


@dataclass(frozen=True)
class Embedding:
    """vector: [dim] float32, unit norm. frames: [T, frame_dim] float32, unit-norm rows, one per 160 ms."""

    vector: np.ndarray
    frames: np.ndarray


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but CUDA is not available on this machine")
    return torch.device(device)


# Windows per forward pass when none is given. On a CPU small passes win: a pass of 4 windows keeps its
# activations (about 1,600 patches x 512 values in the predictor) in cache, where one of 16 streams them from
# memory. scripts/embed_batch.py on the 2-core development machine: a 3-minute query in two threads 355 -> 280
# ms, two 3-minute stems in one thread 756 -> 566 ms (passes of 16 -> 4; 8 and 2 were slower); the outputs
# are the same to the bit, as a window never sees its batch. A GPU wants large passes.
CPU_WINDOWS_PER_PASS = 4
GPU_WINDOWS_PER_PASS = 16


def default_windows_per_pass(device: torch.device) -> int:
    return CPU_WINDOWS_PER_PASS if device.type == "cpu" else GPU_WINDOWS_PER_PASS


class Embedder:
    """Turns 16 kHz mono waveforms into stem embeddings and mix+instrument into query embeddings.

    batch_size: windows per forward pass (None: default_windows_per_pass of the device)."""

    def __init__(
        self,
        model: StemJEPA,
        device: str | torch.device = "cpu",
        reference: Encoder = "target",
        checkpoint_hash: str = "",
        batch_size: int | None = None,
        precision: Precision = "fp32",
    ) -> None:
        self.device = resolve_device(device) if isinstance(device, str) else device
        if precision not in PRECISIONS:
            raise ValueError(f"precision {precision!r}: one of {', '.join(PRECISIONS)}")
        self.precision: Precision = precision
        self.model = model.to(self.device).eval()
        self.cfg: ModelConfig = model.cfg
        self.reference: Encoder = reference
        self.checkpoint_hash = checkpoint_hash
        self.batch_size = batch_size if batch_size is not None else default_windows_per_pass(self.device)
        self.vocabulary = InstrumentVocabulary.from_names(self.cfg.instruments)
        # Per instrument, the mean query direction (model.centring.fit_query_centres), when the checkpoint has
        # its sidecar file: the ranking discounts stems near it, which would otherwise top unrelated queries.
        self.query_centres: dict[str, np.ndarray] | None = None
        # The predictor queries run through: the model's own (training, which changes it), or a frozen cut of it
        # (model.querypredictor) for a loaded checkpoint: the same outputs on 99.9 % of frames for 8-16 % less
        # of a query embedding's CPU (MODEL_CARD.md, "A cheaper query predictor").
        self.query_predictor: torch.nn.Module = self.model.predictor
        self.predictor_units: LiveUnits | None = None
        self._window = self.cfg.audio.chunk_samples
        self._patch_samples = self.cfg.encoder.patch_size * self.cfg.audio.hop_length

    @classmethod
    def from_checkpoint(
        cls, path: str | Path | None = None, device: str = "auto", reference: Encoder = "target",
        batch_size: int | None = None, precision: Precision = "fp32",
    ) -> "Embedder":
        """Loads a checkpoint (the bundled default when `path` is None) onto `device` ('auto', 'cpu', 'cuda')."""
        path = Path(path) if path is not None else default_checkpoint_path()
        ckpt = load_checkpoint(path)
        model = build_model(ckpt)
        log.info("loaded %s (%s, step %s)", path, model.cfg.name, ckpt.get("step"))
        digest = file_sha256(path)
        embedder = cls(model, device, reference, digest, batch_size, precision)
        embedder.query_centres = load_query_centres(query_centres_path(path), digest)
        embedder.freeze_query_predictor(LiveUnits.load(units_path(path), digest))
        return embedder

    def freeze_query_predictor(self, units: LiveUnits | None) -> None:
        """Queries run through a frozen QueryPredictor of the model's MLP predictor as it is now: its instrument
        embedding folded into the first layer, and, with `units` (the checkpoint's sidecar), only the hidden units
        that fired on training mixes. For a checkpoint, not for a model still training (the copy would go stale)."""
        if isinstance(self.model.predictor, MLPPredictor):
            self.predictor_units = units
            self.query_predictor = QueryPredictor(self.model.predictor, self.vocabulary.names, units).to(
                self.device).eval()

    # ---- facts other packages need -------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        return self.cfg.audio.sample_rate

    @property
    def dim(self) -> int:
        return self.model.embed_dim

    @property
    def frame_dim(self) -> int:
        return self.cfg.frames.dim

    @property
    def frame_seconds(self) -> float:
        """Duration of one frame: patch size x hop = 0.16 s."""
        return self._patch_samples / self.sample_rate

    @property
    def embedding_version(self) -> str:
        return f"v{EMBEDDING_VERSION}-{self.reference}"

    def load_audio(self, source: Source, stream: int | None = None) -> np.ndarray:
        """Decodes any supported file to a mono float32 waveform at the model's sample rate."""
        return load_mono(source, self.sample_rate, stream)

    # ---- embedding -------------------------------------------------------------------------------
    def embed_stems(self, waves: Sequence[np.ndarray], encoder: Encoder | None = None) -> list[Embedding]:
        """Stem embeddings of mono waveforms at `sample_rate`, by the reference encoder unless told."""
        return self._run(waves, None, encoder or self.reference)

    def embed_stem(self, wave: np.ndarray, encoder: Encoder | None = None) -> Embedding:
        return self.embed_stems([wave], encoder)[0]

    def predict(self, mixes: Sequence[np.ndarray], instruments: Sequence[str], threads: int = 1,
                pool: Executor | None = None) -> list[Embedding]:
        """Query embeddings: what a stem of `instruments[i]` fitting `mixes[i]` should embed to. `threads` > 1
        runs the forward passes of the windows in that many threads (see `_run`): those of `pool` when given
        (a pool shared with other CPU work, so the cores are not oversubscribed), else a pool of its own."""
        if len(mixes) != len(instruments):
            raise ValueError("one instrument per mix")
        ids = [self.vocabulary.index(name) for name in instruments]
        return self._run(mixes, ids, "context", threads, pool)

    def predict_one(self, mix: np.ndarray, instrument: str) -> Embedding:
        return self.predict([mix], [instrument])[0]

    def _windows(self, wave: np.ndarray) -> list[np.ndarray]:
        """Pads to whole 160 ms patches (at least one) and cuts into 8 s windows; the last may be shorter."""
        if wave.ndim != 1:
            raise ValueError(f"expected a mono waveform [T], got shape {wave.shape}")
        n = max(1, -(-len(wave) // self._patch_samples)) * self._patch_samples
        padded = np.zeros(n, dtype=np.float32)
        padded[: len(wave)] = wave
        return [padded[i : i + self._window] for i in range(0, n, self._window)]

    @torch.inference_mode()
    def _run(
        self, waves: Sequence[np.ndarray], instrument_ids: Sequence[int] | None, encoder: Encoder, threads: int = 1,
        pool: Executor | None = None,
    ) -> list[Embedding]:
        """Embeds `waves` window by window. Windows of equal length go through the model together, never padded
        inside a batch, so a clip embeds the same alone or among others. With `threads` > 1 the batches are cut
        so that each thread gets a share and run side by side: torch releases the GIL inside its kernels, so a
        lone query's windows use two cores with one intra-op thread each, without the spin-waiting of a
        multi-threaded BLAS region on a core another thread holds (model.threads)."""
        windows = [self._windows(np.asarray(w, dtype=np.float32)) for w in waves]
        jobs: dict[int, list[tuple[int, int]]] = {}
        for i, ws in enumerate(windows):
            for j, w in enumerate(ws):
                jobs.setdefault(len(w), []).append((i, j))
        batches = []
        for keys in jobs.values():
            size = min(self.batch_size, max(1, -(-len(keys) // max(threads, 1))))
            batches += [keys[start : start + size] for start in range(0, len(keys), size)]

        def forward(batch_keys: list[tuple[int, int]]) -> tuple[torch.Tensor, torch.Tensor]:
            with torch.inference_mode():  # grad mode is per thread: the pool's threads need it too
                batch = torch.from_numpy(np.stack([windows[i][j] for i, j in batch_keys])).to(self.device)
                inst = None
                if instrument_ids is not None:
                    inst = torch.tensor([instrument_ids[i] for i, _ in batch_keys], device=self.device)
                out = self._encode(batch, inst, encoder)
                return out, out - self._centre(out.shape[1], inst)  # centre: [B or 1, Tp, F, D]

        side_by_side = threads > 1 and len(batches) > 1 and self.device.type == "cpu"
        if side_by_side and sum(len(ws) for ws in windows) <= PARALLEL_MAX_WINDOWS:
            if pool is not None:  # its workers take the passes in order as they come free: no core idles
                results = list(pool.map(forward, batches))
            else:
                with ThreadPoolExecutor(min(threads, len(batches)), thread_name_prefix="embed") as own:
                    results = list(own.map(forward, batches))
        else:
            results = [forward(b) for b in batches]
        outputs: dict[tuple[int, int], torch.Tensor] = {}
        centred: dict[tuple[int, int], torch.Tensor] = {}
        for batch_keys, (out, cen) in zip(batches, results, strict=True):
            for key, emb, c in zip(batch_keys, out, cen.unbind(0), strict=True):
                outputs[key] = emb
                centred[key] = c
        return [
            self._pool(torch.cat([outputs[(i, j)] for j in range(len(ws))]),
                       torch.cat([centred[(i, j)] for j in range(len(ws))]))
            for i, ws in enumerate(windows)
        ]

    def _centre(self, cols: int, instrument: torch.Tensor | None) -> torch.Tensor:
        """Positional mean frames [B or 1, cols, F, D] to remove from frames before alignment."""
        Fr, D = self.model.context_encoder.freq_rows, self.cfg.encoder.dim
        if instrument is None:
            return self.model.frame_centre_ref[:cols].view(1, cols, Fr, D)
        return self.model.frame_centre_pred[instrument, :cols].view(-1, cols, Fr, D)

    def _encode(self, wave: torch.Tensor, instrument: torch.Tensor | None, encoder: Encoder) -> torch.Tensor:
        """[B, T] windows -> [B, Tp, F, D] float32 patch embeddings (predictions when instrument is given)."""
        net = self.model.context_encoder if encoder == "context" else self.model.target_encoder
        cuda = self.device.type == "cuda"
        if cuda:  # process-wide switches: set on every call, so embedders of different precisions can coexist
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = self.precision == "tf32"
        autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda and self.precision == "bf16")
        with autocast:
            emb = net(self.model.features(wave))
            if instrument is not None:
                emb = self.query_predictor(emb, instrument)
        return emb.float()

    def _pool(self, emb: torch.Tensor, centred: torch.Tensor) -> Embedding:
        """[T, F, D] raw and position-centred embeddings -> pooled unit vector [F * D] (from the raw ones,
        as in the paper) and unit frames [T, frame_dim] (from the centred ones)."""
        T, Fr, D = emb.shape
        vector = pooled(emb[None])[0]  # the same pooling the training's InfoNCE term scores
        frames = F.normalize(F.layer_norm(centred.reshape(T, Fr * D), (Fr * D,)) @ self.model.frame_proj, dim=-1)
        return Embedding(vector.cpu().numpy().astype(np.float32), frames.cpu().numpy().astype(np.float32))
