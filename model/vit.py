"""ViT encoder over 16x16 log-mel patches with fixed 2-D sin-cos positions and no CLS token (paper 3.3).

Patch order is time-major: token (t, f) sits at index t * F + f, so the tokens of one 160 ms time step
are contiguous and windows can be joined in time by concatenation.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from model.config import EncoderConfig


def sincos_1d(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """Sin-cos features [N, dim] of integer positions [N] (MAE / I-JEPA convention)."""
    assert dim % 2 == 0
    omega = 1.0 / (10000 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim / 2.0)))
    angles = positions.double()[:, None] * omega[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1).float()


def sincos_2d(freq_rows: int, time_cols: int, dim: int) -> torch.Tensor:
    """Fixed 2-D positions [time_cols * freq_rows, dim], time-major; half the channels per axis."""
    assert dim % 4 == 0, "2-D sin-cos positions need a width divisible by 4"
    t, f = torch.meshgrid(torch.arange(time_cols), torch.arange(freq_rows), indexing="ij")
    return torch.cat([sincos_1d(t.flatten(), dim // 2), sincos_1d(f.flatten(), dim // 2)], dim=1)


class PatchEmbed(nn.Module):
    """Log-mel [B, M, T] -> tokens [B, (T/p) * (M/p), D], time-major."""

    def __init__(self, patch: int, dim: int) -> None:
        super().__init__()
        self.patch = patch
        self.proj = nn.Conv2d(1, dim, kernel_size=patch, stride=patch)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.proj(mel.unsqueeze(1))  # [B, D, F, Tp]
        return x.permute(0, 3, 2, 1).flatten(1, 2)  # [B, Tp * F, D]


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, D = x.shape
        q, k, v = self.qkv(x).view(B, N, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v)  # [B, H, N, D/H]
        return self.proj(y.transpose(1, 2).reshape(B, N, D))


class Block(nn.Module):
    """Pre-norm transformer block."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViTEncoder(nn.Module):
    """Normalised log-mel [B, M, T] (T a multiple of the patch size, at most one window) -> patch
    embeddings [B, T/p, M/p, D]."""

    pos: torch.Tensor

    def __init__(self, cfg: EncoderConfig, n_mels: int, max_frames: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.freq_rows = n_mels // cfg.patch_size
        self.max_cols = max_frames // cfg.patch_size
        self.patch_embed = PatchEmbed(cfg.patch_size, cfg.dim)
        self.register_buffer("pos", sincos_2d(self.freq_rows, self.max_cols, cfg.dim), persistent=False)
        self.blocks = nn.ModuleList(Block(cfg.dim, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.apply(_init_weights)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        B, _M, T = mel.shape
        p = self.cfg.patch_size
        assert T % p == 0 and T // p <= self.max_cols, f"frames {T} must be a multiple of {p} within one window"
        x = self.patch_embed(mel)  # [B, N, D], N = (T/p) * F
        x = x + self.pos[: x.shape[1]]
        for block in self.blocks:
            x = block(x)
        return self.norm(x).view(B, T // p, self.freq_rows, self.cfg.dim)


def _init_weights(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Conv2d):
        w = m.weight.data
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        if m.bias is not None:
            nn.init.zeros_(m.bias)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def encoder_flops(cfg: EncoderConfig, tokens: int) -> float:
    """Forward multiply-add FLOPs (x2) of the encoder on `tokens` tokens, attention included."""
    D, N = cfg.dim, tokens
    per_block = 2 * N * (3 * D * D + D * D + 2 * D * int(D * cfg.mlp_ratio)) + 2 * 2 * N * N * D
    patch = 2 * N * D * cfg.patch_size**2
    return float(cfg.depth * per_block + patch)


__all__ = ["ViTEncoder", "count_parameters", "encoder_flops", "math"]
