"""Fits the positional mean frames that the Embedder removes before alignment (see StemJEPA.frame_centre_*).

The means are taken over full 8 s training chunks: for the reference encoder over target stems, for the
predictor per instrument over the contexts it is asked to complete. Training data only, never evaluation data.
"""

import torch

from model.dataset import PairDataset
from model.embed import Embedder


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
