"""The model card's figures of a shipped checkpoint (`stemjepa eval card`, run by scripts/ship-checkpoint.sh):
training curves of the recipe's runs, the retrieval report's plots, and the JSON of validation figures that
CI re-checks against the checkpoint (model/checkpoints/stemjepa-default.json)."""

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evaluation.training import read_metrics, training_curves_png
from model.checkpoint import load_checkpoint
from model.files import atomic_write_text, file_sha256

# The shipped recipe's runs (scripts/train-shipped.sh), by the label the card's curves carry.
SHIPPED_RUNS: dict[str, str] = {
    "conditioned, phase 1": "compact-cond",
    "no conditioning, phase 1": "compact-nocond",
    "conditioned, phase 2": "nce-cond",
    "no conditioning, phase 2": "nce-nocond",
}
PHASE_1, PHASE_2 = "phase 1", "phase 2"


def phase_offsets(runs: Mapping[str, Path]) -> dict[str, int]:
    """Where each phase-2 run's steps start on the card's x axis: the last step of its phase-1 run."""
    last = {label: read_metrics(path)[-1]["step"] for label, path in runs.items() if PHASE_1 in label}
    return {label: int(last[label.replace(PHASE_2, PHASE_1)]) for label in runs if PHASE_2 in label}


def shipped_system(report: Mapping[str, Any], checkpoint_name: str) -> str:
    """The report's row of the shipped checkpoint scored against target-encoder references."""
    return next(k for k in report["systems"] if checkpoint_name in k and k.endswith("target"))


def card_figures(report: Mapping[str, Any], checkpoint: Path) -> dict[str, Any]:
    """What the card states about `checkpoint`, from a `stemjepa eval retrieval` report (retrieval.json):
    its hash and step, its selection metrics, its protocol A/B metrics, and every system's with intervals."""
    systems = report["systems"]
    ship = shipped_system(report, checkpoint.stem)
    ckpt = load_checkpoint(checkpoint)
    return {
        "checkpoint_sha256": file_sha256(checkpoint),
        "step": ckpt["step"],
        "selection": ckpt.get("metrics", {}),
        "system": ship,
        "musdb18-7-valid": {p: systems[ship][p]["metrics"] for p in ("A", "B")},
        "all_systems": {name: {p: {**s[p]["metrics"], "ci95": s[p]["ci95"],
                                   "per_instrument_R@1": s[p]["per_instrument_R@1"]} for p in ("A", "B")}
                        for name, s in systems.items()},
    }


def write_card(eval_dir: Path, docs: Path, checkpoint: Path, figures: Path, runs_dir: Path | None) -> dict[str, Any]:
    """Writes the card's figures: training curves of `runs_dir`'s recipe runs (when given), the recall plots
    and the checkpoint's failure and confusion plots of `eval_dir` into `docs`, and `figures` (JSON).
    Returns the figures."""
    docs.mkdir(parents=True, exist_ok=True)
    if runs_dir is not None:
        runs = {label: runs_dir / name for label, name in SHIPPED_RUNS.items()}
        training_curves_png(runs, docs / "training-curves.png", sets=("selection", "valid"),
                            step_offsets=phase_offsets(runs))
    for name in ("recall_A.png", "recall_B.png"):
        shutil.copy(eval_dir / name, docs / name)
    prefix = f"checkpoints-{checkpoint.stem}-"
    for png in eval_dir.glob(f"*{checkpoint.stem}*target*.png"):
        shutil.copy(png, docs / png.name.replace(prefix, ""))
    result = card_figures(json.loads((eval_dir / "retrieval.json").read_text()), checkpoint)
    atomic_write_text(figures, json.dumps(result, indent=2) + "\n")
    return result
