"""The model card's figures: a retrieval report and a checkpoint in, the curves, plots and checked JSON out."""

import json
from pathlib import Path

from evaluation.card import SHIPPED_RUNS, card_figures, phase_offsets, write_card
from model.files import file_sha256


def _report(checkpoint: Path) -> dict:
    def protocol(r1: float) -> dict:
        return {"metrics": {"R@1": r1, "queries": 12.0}, "ci95": {"R@1": [0.0, 2 * r1]},
                "per_instrument_R@1": {"bass": r1}}

    names = [f"checkpoints/{checkpoint.stem} [tiny] · target", f"checkpoints/{checkpoint.stem} [tiny] · context",
             "random"]
    return {"systems": {name: {"A": protocol(10.0 + i), "B": protocol(20.0 + i)} for i, name in enumerate(names)}}


def _run(folder: Path, steps: int) -> Path:
    folder.mkdir(parents=True)
    records = [{"step": s, "loss": 1.0 / s, "jepa_loss": 1.0 / s} for s in range(1, steps + 1)]
    records.append({"step": steps, "val": {"selection": {"A": {"R@1": 10.0}, "B": {"R@1": 20.0}},
                                           "valid": {"A": {"R@1": 5.0}, "B": {"R@1": 6.0}}}})
    (folder / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    return folder


def test_card_figures_name_the_checkpoint_and_its_target_row(tiny_checkpoint: Path) -> None:
    figures = card_figures(_report(tiny_checkpoint), tiny_checkpoint)
    assert figures["checkpoint_sha256"] == file_sha256(tiny_checkpoint) and figures["step"] == 0
    assert figures["system"].endswith("· target")
    assert figures["musdb18-7-valid"] == {"A": {"R@1": 10.0, "queries": 12.0}, "B": {"R@1": 20.0, "queries": 12.0}}
    assert figures["all_systems"]["random"]["A"]["ci95"] == {"R@1": [0.0, 24.0]}


def test_phase_two_curves_continue_where_phase_one_stopped(tmp_path: Path) -> None:
    runs = {label: _run(tmp_path / name, 8 if "phase 1" in label else 3) for label, name in SHIPPED_RUNS.items()}
    assert phase_offsets(runs) == {"conditioned, phase 2": 8, "no conditioning, phase 2": 8}


def test_write_card_fills_the_docs_folder_and_the_json(tmp_path: Path, tiny_checkpoint: Path) -> None:
    eval_dir, docs = tmp_path / "eval", tmp_path / "docs"
    eval_dir.mkdir()
    (eval_dir / "retrieval.json").write_text(json.dumps(_report(tiny_checkpoint)))
    for name in ("recall_A.png", "recall_B.png", f"failure_checkpoints-{tiny_checkpoint.stem}-tiny-target.png",
                 "failure_random.png"):
        (eval_dir / name).write_bytes(b"png")
    for label, name in SHIPPED_RUNS.items():
        _run(tmp_path / "runs" / name, 8 if "phase 1" in label else 3)
    figures = write_card(eval_dir, docs, tiny_checkpoint, tmp_path / "card.json", tmp_path / "runs")
    assert json.loads((tmp_path / "card.json").read_text()) == figures
    assert sorted(p.name for p in docs.iterdir()) == ["failure_tiny-target.png", "recall_A.png", "recall_B.png",
                                                      "training-curves.png"]
