"""Moving an inference checkpoint through a narrow pipe: int8 weights in size-capped pieces.

A lent GPU machine returns at most a few files of 16 MiB; a ViT-S inference checkpoint is about 95 MB in
float16. `to_pieces` stores every large weight matrix as int8 with one float32 scale per output row
(symmetric, round to nearest: a relative error of at most 1/254 of the row's largest weight) and everything
else as it is, then cuts the serialised dict into pieces; `from_pieces` joins them and rebuilds an ordinary
float16 inference checkpoint that `model.checkpoint.build_model` and the Embedder load. The rebuilt weights
are not the trained ones bit for bit: measure the rebuilt file, and say that it was quantised.
"""

import io
from pathlib import Path
from typing import Any

import torch

from model.checkpoint import atomic_torch_save

QUANTISED_KEY = "model_int8"
MIN_QUANTISED_NUMEL = 65_536  # smaller tensors (norms, biases, embeddings) stay in float16: few bytes, no error


def quantise_rows(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """[R, C] float -> (int8 [R, C], float32 scales [R]) with w ~= q * scale[:, None]."""
    w = w.float()
    scale = w.abs().amax(dim=1).clamp_min(1e-12) / 127.0
    return torch.round(w / scale[:, None]).clamp_(-127, 127).to(torch.int8), scale


def to_pieces(ckpt: dict[str, Any], folder: Path, stem: str, piece_bytes: int = 15 << 20,
              min_numel: int = MIN_QUANTISED_NUMEL) -> list[Path]:
    """Writes `ckpt` (an inference checkpoint dict) as `stem.part00`, `stem.part01`, ... in `folder`, its weight
    matrices of at least `min_numel` elements in int8. Only float16 tensors (the exported weights) are quantised:
    float32 ones, such as the fixed random frame projection, are kept exactly."""
    model = dict(ckpt["model"])
    quantised = {}
    for key, value in list(model.items()):
        if value.dtype == torch.float16 and value.ndim == 2 and value.numel() >= min_numel:
            quantised[key] = quantise_rows(model.pop(key))
    buf = io.BytesIO()
    torch.save({**ckpt, "model": model, QUANTISED_KEY: quantised}, buf)
    data = buf.getvalue()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, start in enumerate(range(0, len(data), piece_bytes)):
        path = folder / f"{stem}.part{i:02d}"
        path.write_bytes(data[start : start + piece_bytes])
        paths.append(path)
    return paths


def from_pieces(pieces: list[Path], dst: Path) -> dict[str, Any]:
    """Joins the pieces (in name order), dequantises to float16 and writes an inference checkpoint at `dst`."""
    data = b"".join(p.read_bytes() for p in sorted(pieces))
    ckpt = torch.load(io.BytesIO(data), map_location="cpu", weights_only=False)
    model = dict(ckpt.pop("model"))
    for key, (q, scale) in ckpt.pop(QUANTISED_KEY).items():
        model[key] = (q.float() * scale[:, None]).half()
    ckpt["model"] = model
    ckpt["transport"] = {"quantised": "int8 per output row", "pieces": [p.name for p in sorted(pieces)]}
    atomic_torch_save(ckpt, dst)
    return ckpt
