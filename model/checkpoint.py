"""Self-describing checkpoints: configs, instrument vocabulary, normalisation stats and step travel with
the weights, so inference rebuilds the model without the training code.

A training checkpoint also holds the optimiser, scheduler and RNG states for an exact resume; a shipped
(inference) checkpoint keeps only the networks, optionally in float16.
"""

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from model.config import ModelConfig, RunConfig, from_dict, to_dict
from model.errors import CheckpointError
from model.files import atomic_write, file_sha256
from model.instruments import InstrumentVocabulary
from model.jepa import StemJEPA

log = logging.getLogger(__name__)

FORMAT = "stemjepa-checkpoint"
FORMAT_VERSION = 1
BUNDLED_DIR = Path(__file__).resolve().parent / "checkpoints"
BUNDLED_CHECKPOINT = BUNDLED_DIR / "stemjepa-default.pt"


def default_checkpoint_path() -> Path:
    """The checkpoint shipped in the repository, used wherever none is named."""
    return BUNDLED_CHECKPOINT


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """torch.save through model.files.atomic_write: a crash never leaves half a checkpoint."""
    atomic_write(path, lambda f: torch.save(obj, f))


def save_checkpoint(
    path: str | Path,
    model: StemJEPA,
    run: RunConfig,
    step: int,
    training_state: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    half: bool = False,
) -> None:
    """Saves the networks and their description; `training_state` (optimiser, scheduler, RNG) makes it resumable."""
    state = {k: (v.half() if half and v.is_floating_point() and k != "frame_proj" else v)
             for k, v in model.state_dict().items()}
    ckpt = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "run_config": to_dict(run),
        "vocabulary": InstrumentVocabulary.from_names(run.model.instruments).to_dict(),
        "norm_stats": model.stats.to_dict(),
        "step": step,
        "metrics": metrics or {},
        "model": state,
    }
    if training_state is not None:
        ckpt["training_state"] = training_state
    atomic_torch_save(ckpt, path)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Reads and checks a checkpoint dict; raises CheckpointError with the reason."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:  # torch raises many types for a bad file; all mean the same to the caller
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a Stem-JEPA checkpoint")
    if ckpt.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{path} has format version {ckpt['format_version']}, newer than this code")
    return ckpt


def export_inference(src: str | Path, dst: str | Path, half: bool = True, model: StemJEPA | None = None,
                     extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Writes the networks of a training checkpoint without optimiser or RNG state (float16 weights by
    default: half the size, and the Embedder computes in float32 after loading). `model`, when given,
    replaces the weights (e.g. with fitted frame centres). Returns the new dict."""
    ckpt = load_checkpoint(src)
    ckpt.pop("training_state", None)
    if model is not None:
        ckpt["model"] = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    ckpt.update(extra or {})
    if half:
        ckpt["model"] = {k: (v.half() if v.is_floating_point() and k != "frame_proj" else v)
                         for k, v in ckpt["model"].items()}
    ckpt["exported_from"] = {"file": Path(src).name, "sha256": file_sha256(src)}
    atomic_torch_save(ckpt, dst)
    return ckpt


def run_config_of(ckpt: dict[str, Any]) -> RunConfig:
    return from_dict(RunConfig, ckpt["run_config"], "checkpoint.run_config")


def model_config_of(ckpt: dict[str, Any]) -> ModelConfig:
    return run_config_of(ckpt).model


def build_model(ckpt: dict[str, Any]) -> StemJEPA:
    """Rebuilds the model of a checkpoint dict in float32 with its weights and statistics."""
    model = StemJEPA(model_config_of(ckpt))
    state = {k: v.float() if v.is_floating_point() else v for k, v in ckpt["model"].items()}
    # checkpoints written before frame centring existed simply have none fitted (zeros)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or set(missing) - {"frame_centre_ref", "frame_centre_pred"}:
        raise CheckpointError(f"checkpoint does not fit its config: missing {missing}, unexpected {unexpected}")
    return model


QUERY_CENTRES_SUFFIX = ".query-centres.npz"


def sidecar_path(checkpoint: Path, suffix: str) -> Path:
    """A file derived from a checkpoint and kept beside it: `<name><suffix>` (the checkpoint's name less .pt)."""
    return checkpoint.with_name(checkpoint.name.removesuffix(".pt") + suffix)


def load_sidecar(path: Path, checkpoint_hash: str) -> dict[str, np.ndarray] | None:
    """Every array of a sidecar .npz saved for the checkpoint with `checkpoint_hash` (its `checkpoint_hash` array);
    None when the file is absent or belongs to another checkpoint."""
    if not path.is_file():
        return None
    with np.load(path) as z:
        if str(z["checkpoint_hash"]) != checkpoint_hash:
            log.warning("ignoring %s: made for another checkpoint", path.name)
            return None
        return {k: z[k] for k in z.files}


def query_centres_path(checkpoint: Path) -> Path:
    """The sidecar file of a checkpoint's query centres (model.centring): `<name>.query-centres.npz` beside it."""
    return sidecar_path(checkpoint, QUERY_CENTRES_SUFFIX)


def load_query_centres(path: Path, checkpoint_hash: str) -> dict[str, np.ndarray] | None:
    """The query centres saved for the checkpoint with `checkpoint_hash` (instrument -> unit vector [dim]);
    None when the file is absent or belongs to another checkpoint."""
    z = load_sidecar(path, checkpoint_hash)
    if z is None:
        return None
    return {str(n): np.asarray(c, dtype=np.float32) for n, c in zip(z["names"], z["centres"], strict=True)}
