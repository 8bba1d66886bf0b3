"""The query path's predictor, cut to what the checkpoint computes: per instrument, the MLP predictor with its
instrument embedding folded into the first layer's bias and the hidden units that never fire left out.

Why: on a CPU the predictor is about a third of a query's embedding (6 layers, 512 wide, per patch), and a query
embeds every 8 s window of the upload. Two cuts keep its function:
- The instrument embedding is the same for every patch of a query, so its half of the first layer's input is a
  constant: `W [ctx; inst] + b = W_ctx ctx + (W_inst inst + b)`. The first product shrinks from 256 to 128 inputs
  and the [B, T, F, 256] concatenation goes (equal up to float rounding, ~1e-6).
- A ReLU unit whose input is negative for every patch it will see contributes exactly zero: its row of one layer
  and its column of the next can go. Which units those are is measured, per instrument, over training mixes
  (`model.centring.fit_predictor_units`: the mixes of each song's other stems, at every level the service
  accepts) and stored beside the checkpoint (`<name>.predictor-units.npz`, tied to its hash, with the largest
  input each unit saw); a unit is kept if it ever fired there. How often a left-out unit fires on audio outside
  that corpus, what that changes and what the cut saves are measured in MODEL_CARD.md ("A cheaper query
  predictor").
Kept widths are rounded up to a multiple of WIDTH_MULTIPLE (by keeping the next most active units): the matrix
kernels of this CPU lose more to odd widths (433, 407) than the left-out units save.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from model.checkpoint import load_sidecar, sidecar_path
from model.files import atomic_write
from model.predictor import MLPPredictor

UNITS_SUFFIX = ".predictor-units.npz"
WIDTH_MULTIPLE = 16
# RMS levels (dBFS) at which every training mix is seen: an upload's level shifts its whole log-mel (no loudness
# normalisation before the model), so the corpus spans every level the service accepts (its silence threshold,
# -60 dBFS, up to hot masters), not only the renders' own levels.
FIT_LEVELS_DBFS = (-60.0, -54.0, -48.0, -42.0, -36.0, -30.0, -24.0, -18.0, -12.0, -6.0)


def units_path(checkpoint: Path) -> Path:
    """The sidecar of a checkpoint's live units: `<name>.predictor-units.npz` beside it."""
    return sidecar_path(checkpoint, UNITS_SUFFIX)


def _layers(predictor: MLPPredictor) -> list[nn.Linear]:
    layers = [m for m in predictor.net if isinstance(m, nn.Linear)]
    if not isinstance(predictor.net[-1], nn.LayerNorm) or len(layers) < 2:
        raise ValueError("expected an MLP predictor: Linear/ReLU layers ending in a LayerNorm")
    return layers


def first_layer_bias(predictor: MLPPredictor, instrument: torch.Tensor, dim: int) -> torch.Tensor:
    """[B, hidden]: the first layer's bias plus its product with each row's instrument embedding (zero when the
    predictor is unconditioned)."""
    first = _layers(predictor)[0]
    if not predictor.conditioned:
        return first.bias.expand(len(instrument), -1)
    return F.linear(predictor.instrument(instrument), first.weight[:, dim:], first.bias)


@torch.inference_mode()
def unit_maxima(predictor: MLPPredictor, ctx: torch.Tensor, instrument: int) -> list[torch.Tensor]:
    """The largest input of each hidden ReLU unit over every patch of `ctx` [B, T, F, D] for `instrument`: one
    [hidden] tensor per hidden layer."""
    layers = _layers(predictor)
    D = ctx.shape[-1]
    h = ctx.reshape(-1, D)
    bias = first_layer_bias(predictor, torch.tensor([instrument], device=ctx.device), D)
    maxima = []
    for i, layer in enumerate(layers[:-1]):
        pre = F.linear(h, layer.weight[:, :D], bias[0]) if i == 0 else layer(h)
        maxima.append(pre.amax(dim=0))
        h = torch.relu(pre)
    return maxima


@dataclass(frozen=True)
class LiveUnits:
    """Per instrument name, the largest input each hidden unit saw over the fit corpus: [layers][hidden]."""

    maxima: dict[str, list[np.ndarray]]
    checkpoint_hash: str
    data: str

    def kept(self, instrument: str, multiple: int = WIDTH_MULTIPLE) -> list[np.ndarray]:
        """Per hidden layer, the sorted indices of the units to keep: those that fired (input > 0), plus the
        next most active ones up to a multiple of `multiple` units."""
        out = []
        for m in self.maxima[instrument]:
            live = int((m > 0).sum())
            width = min(len(m), max(multiple, -(-live // multiple) * multiple))
            out.append(np.sort(np.argsort(-m, kind="stable")[:width]))
        return out

    def save(self, path: Path) -> None:
        names = sorted(self.maxima)
        arrays: dict[str, Any] = {f"{n}/{i}": m for n in names for i, m in enumerate(self.maxima[n])}
        arrays.update(names=np.array(names), checkpoint_hash=np.array(self.checkpoint_hash), data=np.array(self.data))
        atomic_write(path, lambda f: np.savez(f, **arrays))

    @classmethod
    def load(cls, path: Path, checkpoint_hash: str) -> "LiveUnits | None":
        """The units saved for the checkpoint with `checkpoint_hash`; None when the file is absent or belongs to
        another checkpoint."""
        z = load_sidecar(path, checkpoint_hash)
        if z is None:
            return None
        maxima: dict[str, list[np.ndarray]] = {}
        for name in (str(n) for n in z["names"]):
            layers = sorted((k for k in z if k.startswith(name + "/")), key=lambda k: int(k.rsplit("/")[1]))
            maxima[name] = [np.asarray(z[k], dtype=np.float32) for k in layers]
        return cls(maxima, checkpoint_hash, str(z["data"]))


def fit_live_units(predictor: MLPPredictor, contexts: Iterable[tuple[torch.Tensor, int]], names: Sequence[str],
                   checkpoint_hash: str, data: str) -> LiveUnits:
    """LiveUnits over `contexts`: (context encoder output [B, T, F, D], instrument id) pairs."""
    best: dict[int, list[torch.Tensor]] = {}
    for ctx, inst in contexts:
        maxima = unit_maxima(predictor, ctx, inst)
        if inst in best:
            maxima = [torch.maximum(a, b) for a, b in zip(best[inst], maxima, strict=True)]
        best[inst] = maxima
    missing = [names[i] for i in range(len(names)) if i not in best]
    if missing:
        raise ValueError(f"no training mix for {', '.join(missing)}: every instrument needs its own corpus")
    return LiveUnits({names[i]: [m.float().cpu().numpy() for m in best[i]] for i in sorted(best)}, checkpoint_hash,
                     data)


class CompactPredictor(nn.Module):
    """The MLP predictor for one instrument, its live units only: context [N, D] -> prediction [N, D]."""

    def __init__(self, predictor: MLPPredictor, instrument: int, kept: Sequence[np.ndarray]) -> None:
        super().__init__()
        layers = _layers(predictor)
        if len(kept) != len(layers) - 1:
            raise ValueError(f"{len(kept)} hidden layers of units for a predictor with {len(layers) - 1}")
        D = layers[-1].out_features
        inst = torch.tensor([instrument], device=layers[0].weight.device)
        with torch.no_grad():
            weights, biases = [], []
            rows = None  # the units kept from the layer before (the inputs of this one)
            for i, layer in enumerate(layers):
                out = torch.as_tensor(kept[i], dtype=torch.long) if i < len(kept) else None
                w = layer.weight[:, :D] if i == 0 else layer.weight
                b = first_layer_bias(predictor, inst, D)[0] if i == 0 else layer.bias
                if rows is not None:
                    w = w[:, rows]
                if out is not None:
                    w, b = w[out], b[out]
                weights.append(w.detach().clone().contiguous())
                biases.append(b.detach().clone().contiguous())
                rows = out
        self.weights = nn.ParameterList(nn.Parameter(w, requires_grad=False) for w in weights)
        self.biases = nn.ParameterList(nn.Parameter(b, requires_grad=False) for b in biases)
        self.norm = predictor.net[-1]

    @property
    def widths(self) -> list[int]:
        return [int(w.shape[0]) for w in self.weights[:-1]]

    def forward(self, ctx: torch.Tensor) -> torch.Tensor:
        h = ctx
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = torch.addmm(b, h, w.t())
            if i < last:
                h = torch.relu_(h)
        out: torch.Tensor = self.norm(h)
        return out


class QueryPredictor(nn.Module):
    """All instruments' CompactPredictors: [B, T, F, D] contexts and [B] instrument ids -> [B, T, F, D]
    predictions, each batch row through its instrument's cut predictor."""

    def __init__(self, predictor: MLPPredictor, names: Sequence[str], units: LiveUnits | None) -> None:
        super().__init__()
        full = [np.arange(layer.out_features) for layer in _layers(predictor)[:-1]]
        self.per_instrument = nn.ModuleList(
            CompactPredictor(predictor, i, units.kept(name) if units is not None and name in units.maxima else full)
            for i, name in enumerate(names))

    def forward(self, ctx: torch.Tensor, instrument: torch.Tensor) -> torch.Tensor:
        B, T, Fr, D = ctx.shape
        ids = instrument.tolist()
        if len(set(ids)) == 1:
            return self.per_instrument[ids[0]](ctx.reshape(-1, D)).view(B, T, Fr, D)
        out = torch.empty_like(ctx)
        for inst in sorted(set(ids)):
            rows = torch.tensor([r for r, i in enumerate(ids) if i == inst], device=ctx.device)
            out[rows] = self.per_instrument[inst](ctx[rows].reshape(-1, D)).view(len(rows), T, Fr, D)
        return out
