"""Predictors: context patch embeddings + target instrument -> predicted target patch embeddings.

The paper's predictor (3.1, 3.3) is a 6-layer MLP with ReLU and 1024 hidden units applied to each patch
independently, conditioned by concatenating a learned instrument embedding. The ablations (Table 1) drop
the conditioning or swap in a transformer over all patches (M2D's predictor).
"""

import itertools

import torch
from torch import nn

from model.config import PredictorConfig
from model.vit import Block, _init_weights, sincos_2d


class InstrumentEmbedding(nn.Module):
    """Learned table [n_instruments, dim]; a zero vector when the predictor is unconditioned."""

    def __init__(self, n_instruments: int, dim: int, conditioned: bool) -> None:
        super().__init__()
        self.conditioned = conditioned
        self.table = nn.Embedding(n_instruments, dim)
        nn.init.normal_(self.table.weight, std=0.02)

    def forward(self, instrument: torch.Tensor) -> torch.Tensor:
        emb = self.table(instrument)  # [B, dim]
        return emb if self.conditioned else torch.zeros_like(emb)


class MLPPredictor(nn.Module):
    """[B, Tp, F, D] context embeddings, [B] instrument ids -> [B, Tp, F, D] predictions."""

    def __init__(self, cfg: PredictorConfig, dim: int, n_instruments: int) -> None:
        super().__init__()
        inst_dim = cfg.instrument_dim or dim
        self.instrument = InstrumentEmbedding(n_instruments, inst_dim, cfg.conditioned)
        in_dim = dim + (inst_dim if cfg.conditioned else 0)
        widths = [in_dim] + [cfg.hidden] * (cfg.depth - 1) + [dim]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(itertools.pairwise(widths)):
            layers.append(nn.Linear(a, b))
            if i < len(widths) - 2:
                layers.append(nn.ReLU())
        layers.append(nn.LayerNorm(dim, eps=1e-6))
        self.net = nn.Sequential(*layers)
        self.conditioned = cfg.conditioned
        self.apply(_init_weights)

    def forward(self, ctx: torch.Tensor, instrument: torch.Tensor) -> torch.Tensor:
        B, Tp, F, _D = ctx.shape
        if self.conditioned:
            emb = self.instrument(instrument)[:, None, None, :].expand(B, Tp, F, -1)
            ctx = torch.cat([ctx, emb], dim=-1)
        out: torch.Tensor = self.net(ctx)
        return out


class TransformerPredictor(nn.Module):
    """M2D-style predictor: project to a narrower width, add positions and an instrument token, attend."""

    pos: torch.Tensor

    def __init__(self, cfg: PredictorConfig, dim: int, n_instruments: int, freq_rows: int, max_cols: int) -> None:
        super().__init__()
        width = cfg.hidden
        self.conditioned = cfg.conditioned
        self.embed = nn.Linear(dim, width)
        self.instrument = InstrumentEmbedding(n_instruments, width, cfg.conditioned)
        self.register_buffer("pos", sincos_2d(freq_rows, max_cols, width), persistent=False)
        self.blocks = nn.ModuleList(Block(width, cfg.heads, 4.0) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(width, eps=1e-6)
        self.out = nn.Linear(width, dim)
        self.out_norm = nn.LayerNorm(dim, eps=1e-6)
        self.apply(_init_weights)

    def forward(self, ctx: torch.Tensor, instrument: torch.Tensor) -> torch.Tensor:
        B, Tp, F, D = ctx.shape
        x = self.embed(ctx.reshape(B, Tp * F, D)) + self.pos[: Tp * F]
        x = torch.cat([self.instrument(instrument)[:, None, :], x], dim=1)  # instrument token first
        for block in self.blocks:
            x = block(x)
        y = self.out_norm(self.out(self.norm(x[:, 1:])))
        return y.view(B, Tp, F, D)


def build_predictor(cfg: PredictorConfig, dim: int, n_instruments: int, freq_rows: int, max_cols: int) -> nn.Module:
    if cfg.kind == "mlp":
        return MLPPredictor(cfg, dim, n_instruments)
    return TransformerPredictor(cfg, dim, n_instruments, freq_rows, max_cols)
