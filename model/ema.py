"""The EMA target encoder's momentum schedule and update (paper eq. 2; I-JEPA's recipe)."""

import torch
from torch import nn


def ema_momentum(step: int, total_steps: int, start: float, end: float) -> float:
    """Momentum at `step`, linearly interpolated from `start` to `end` over `total_steps` (paper 3.1)."""
    if total_steps <= 0:
        return end
    frac = min(max(step / total_steps, 0.0), 1.0)
    return start + (end - start) * frac


@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, momentum: float) -> None:
    """target <- momentum * target + (1 - momentum) * online, parameter by parameter."""
    t_params: list[torch.Tensor] = list(target.parameters())
    o_params: list[torch.Tensor] = list(online.parameters())
    torch._foreach_mul_(t_params, momentum)
    torch._foreach_add_(t_params, o_params, alpha=1.0 - momentum)
