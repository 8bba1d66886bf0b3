"""Centres of the model's outputs, fitted on training data only: the positional mean frames that the Embedder
removes before alignment (see StemJEPA.frame_centre_*), and the per-instrument mean query directions that the
ranking uses against hub stems (a sidecar file beside the checkpoint); and, also from training mixes, which of
the predictor's hidden units ever fire (model.querypredictor; another sidecar).

The frame means are taken over full 8 s training chunks: for the reference encoder over target stems, for the
predictor per instrument over the contexts it is asked to complete.
"""

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from model.audio import rms_dbfs
from model.dataset import PairDataset
from model.embed import Embedder
from model.files import atomic_write
from model.predictor import MLPPredictor
from model.querypredictor import FIT_LEVELS_DBFS, LiveUnits, fit_live_units
from model.validate import QueryPair


@torch.inference_mode()
def fit_frame_centres(embedder: Embedder, dataset: PairDataset, chunks: int, seed: int = 777) -> dict[str, int]:
    """Sets embedder.model.frame_centre_{ref,pred} from `chunks` context/target pairs; returns counts."""
    model = embedder.model
    ref_sum = torch.zeros_like(model.frame_centre_ref)
    pred_sum = torch.zeros_like(model.frame_centre_pred)
    pred_count = torch.zeros(pred_sum.shape[0], device=pred_sum.device)
    model.frame_centre_ref.zero_()
    model.frame_centre_pred.zero_()
    for i in range(chunks):
        ctx, tgt, inst, _ = dataset[seed * 1_000_003 + i]
        inst_t = torch.tensor([inst], device=embedder.device)
        ref = embedder._encode(tgt[None].to(embedder.device), None, embedder.reference)[0]  # [Tp, F, D]
        pred = embedder._encode(ctx[None].to(embedder.device), inst_t, "context")[0]
        ref_sum += ref.reshape(ref.shape[0], -1)
        pred_sum[inst] += pred.reshape(pred.shape[0], -1)
        pred_count[inst] += 1
    model.frame_centre_ref.copy_(ref_sum / chunks)
    model.frame_centre_pred.copy_(pred_sum / pred_count.clamp(min=1)[:, None, None])
    per_instrument = zip(embedder.vocabulary.names, pred_count.tolist(), strict=True)
    return {"chunks": chunks, **{name: int(count) for name, count in per_instrument}}


@torch.inference_mode()
def fit_query_centres(embedder: Embedder, pairs: Sequence[QueryPair]) -> dict[str, np.ndarray]:
    """Per instrument, the unit direction of the mean pooled prediction [dim] over query pairs (mixes of a
    song's other stems; training data only). Stems near it score high with every query of that instrument:
    the hubs that top unrelated queries."""
    out: dict[str, np.ndarray] = {}
    for name in embedder.vocabulary.names:
        mixes = [p.mix for p in pairs if p.instrument == name]
        if not mixes:
            continue
        mean = np.mean([e.vector for e in embedder.predict(mixes, [name] * len(mixes))], axis=0)
        out[name] = (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)
    return out


def save_query_centres(path: Path, centres: dict[str, np.ndarray], checkpoint_hash: str, data: str) -> None:
    """Writes the centres with the hash of the checkpoint they belong to and what data they came from."""
    names = sorted(centres)
    atomic_write(path, lambda f: np.savez(f, names=np.array(names), centres=np.stack([centres[n] for n in names]),
                                          checkpoint_hash=np.array(checkpoint_hash), data=np.array(data)))


def fit_predictor_units(embedder: Embedder, pairs: Sequence[QueryPair], data: str,
                        levels_dbfs: Sequence[float] = FIT_LEVELS_DBFS) -> LiveUnits:
    """Which hidden units of the embedder's MLP predictor fire, per instrument, on the query pairs' mixes (the
    songs' other stems; training data only), each scaled to every RMS level of `levels_dbfs`, window by window as
    `Embedder.predict` cuts them."""
    predictor = embedder.model.predictor
    if not isinstance(predictor, MLPPredictor):
        raise ValueError("only an MLP predictor has units to leave out")
    model = embedder.model

    def contexts() -> Iterator[tuple[torch.Tensor, int]]:
        with torch.inference_mode():
            for pair in pairs:
                inst = embedder.vocabulary.index(pair.instrument)
                level = rms_dbfs(pair.mix)
                if not np.isfinite(level):
                    continue
                for target in levels_dbfs:
                    windows = embedder._windows(pair.mix * np.float32(10 ** ((target - level) / 20)))
                    by_length: dict[int, list[np.ndarray]] = {}
                    for w in windows:
                        by_length.setdefault(len(w), []).append(w)
                    for same in by_length.values():
                        batch = torch.from_numpy(np.stack(same)).to(embedder.device)
                        yield model.context_encoder(model.features(batch)), inst

    return fit_live_units(predictor, contexts(), embedder.vocabulary.names, embedder.checkpoint_hash, data)
