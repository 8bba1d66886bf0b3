"""Stem-JEPA: context encoder, EMA target encoder and conditioned predictor, with the paper's loss (3.1).

The front end lives here too (log-mel + the dataset normalisation kept as buffers), so a checkpoint's
state dict holds everything that turns a waveform into embeddings.
"""

import copy

import torch
import torch.nn.functional as F
from torch import nn

from model.config import ModelConfig
from model.melspec import LogMel, NormStats
from model.predictor import build_predictor
from model.vit import ViTEncoder


def jepa_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Paper eq. 1: MSE between L2-normalised predicted and target patch embeddings [..., D]
    (= 2 - 2 cos, averaged over patches), computed in float32."""
    p = F.normalize(pred.float(), dim=-1)
    t = F.normalize(target.float(), dim=-1)
    return (p - t).square().sum(dim=-1).mean()


def pooled(emb: torch.Tensor) -> torch.Tensor:
    """Patch embeddings [B, Tp, F, D] -> the retrieval vector [B, F * D] exactly as the Embedder pools it:
    time-mean, frequency rows concatenated, layer-normed, L2-normalised (float32)."""
    B, _Tp, Fr, D = emb.shape
    return F.normalize(F.layer_norm(emb.float().mean(dim=1).reshape(B, Fr * D), (Fr * D,)), dim=-1)


def pooled_infonce(pred: torch.Tensor, target: torch.Tensor, instrument: torch.Tensor, song: torch.Tensor,
                   temperature: float) -> torch.Tensor:
    """In-batch InfoNCE between pooled predictions and pooled target embeddings: each prediction must pick
    its own stem among the batch's targets (the retrieval task of paper 4.1, with the batch as catalogue).
    Other rows holding the same song's same instrument are masked rather than counted as negatives: they
    are (overlapping chunks of) the right answer. The targets carry no gradient (EMA encoder)."""
    q, k = pooled(pred), pooled(target)
    logits = q @ k.T / temperature  # [B, B]
    duplicate = (song[:, None] == song[None, :]) & (instrument[:, None] == instrument[None, :])
    duplicate.fill_diagonal_(False)
    logits = logits.masked_fill(duplicate, float("-inf"))
    return F.cross_entropy(logits, torch.arange(len(q), device=q.device))


def frame_projection(in_dim: int, out_dim: int, seed: int) -> torch.Tensor:
    """A fixed random orthonormal projection [in_dim, out_dim] for compact frame sequences.

    Random orthonormal directions preserve cosine similarity in expectation (Johnson-Lindenstrauss),
    which is all alignment needs, and cost nothing to train."""
    g = torch.Generator().manual_seed(seed)
    m = torch.randn(in_dim, max(out_dim, 1), generator=g, dtype=torch.float64)
    q, _ = torch.linalg.qr(m)
    return q[:, :out_dim].float()


class StemJEPA(nn.Module):
    norm_mean: torch.Tensor
    norm_std: torch.Tensor
    frame_proj: torch.Tensor
    frame_centre_ref: torch.Tensor
    frame_centre_pred: torch.Tensor

    def __init__(self, cfg: ModelConfig, stats: NormStats | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        stats = stats or NormStats()
        self.logmel = LogMel(cfg.audio)
        self.register_buffer("norm_mean", torch.tensor(float(stats.mean)))
        self.register_buffer("norm_std", torch.tensor(float(stats.std)))
        self.context_encoder = ViTEncoder(cfg.encoder, cfg.audio.n_mels, cfg.audio.chunk_frames)
        # The target encoder is a copy with gradients off, moved only by the EMA (paper eq. 2).
        self.target_encoder = copy.deepcopy(self.context_encoder).requires_grad_(False)
        freq_rows, max_cols = cfg.encoder.grid(cfg.audio)
        self.predictor = build_predictor(cfg.predictor, cfg.encoder.dim, len(cfg.instruments), freq_rows, max_cols)
        embed_dim = freq_rows * cfg.encoder.dim
        self.register_buffer(
            "frame_proj", frame_projection(embed_dim, cfg.frames.dim, cfg.frames.projection_seed)
        )
        # Mean frame per window position (reference encoder; predictor per instrument), fitted on training
        # audio by model.centring. The fixed sin-cos positions leave a positional code in every frame, which
        # would pull each alignment toward lag 0; frames are compared with it removed. Zeros: not fitted.
        self.register_buffer("frame_centre_ref", torch.zeros(max_cols, embed_dim))
        self.register_buffer("frame_centre_pred", torch.zeros(len(cfg.instruments), max_cols, embed_dim))

    @property
    def stats(self) -> NormStats:
        return NormStats(float(self.norm_mean), float(self.norm_std))

    @property
    def embed_dim(self) -> int:
        """Width of a pooled vector: the frequency rows' embeddings concatenated."""
        return int(self.frame_proj.shape[0])

    def features(self, wave: torch.Tensor) -> torch.Tensor:
        """Waveforms [B, T] -> normalised log-mel [B, M, T // hop]."""
        return (self.logmel(wave) - self.norm_mean) / self.norm_std

    def forward(self, context: torch.Tensor, target: torch.Tensor, instrument: torch.Tensor,
                song: torch.Tensor | None = None, temperature: float = 0.1,
                online_keys: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """One training step's losses (JEPA, pooled InfoNCE). context, target: waveforms [B, T]; instrument:
        ids [B]; song: song numbers [B] for the InfoNCE term, which is zero when `song` is None; online_keys:
        embed the InfoNCE keys with the context encoder (with gradient) instead of the EMA target encoder."""
        tgt_feat = self.features(target)
        ctx_emb = self.context_encoder(self.features(context))  # [B, Tp, F, D]
        with torch.no_grad():
            tgt_emb = self.target_encoder(tgt_feat)
        pred = self.predictor(ctx_emb, instrument)
        if song is None:
            nce = pred.new_zeros((), dtype=torch.float32)
        else:
            keys = self.context_encoder(tgt_feat) if online_keys else tgt_emb
            nce = pooled_infonce(pred, keys, instrument, song, temperature)
        return jepa_loss(pred, tgt_emb), nce
