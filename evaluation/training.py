"""Training curves of one or more runs (their metrics.jsonl): loss and validation R@1 against step, as a PNG."""

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt
from matplotlib.lines import Line2D


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """The records a training run logged, one per step (plus validation records).

    The file is appended to: a run restarted from scratch, or resumed from an earlier checkpoint, logs
    steps again; the newer records replace every older one at or after their step."""
    path = run_dir / "metrics.jsonl"
    records: list[dict[str, Any]] = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        if "loss" in record:
            last = max((r["step"] for r in records if "loss" in r), default=0)
            if record["step"] <= last:
                records = [r for r in records if r["step"] < record["step"]]
        records.append(record)
    return records


def validation_series(records: list[dict[str, Any]]) -> dict[str, tuple[list[int], list[float]]]:
    """'set/protocol' -> (steps, R@1) for every validation set a run scored."""
    series: dict[str, tuple[list[int], list[float]]] = {}
    for r in records:
        for set_name, metrics in (r.get("val") or {}).items():
            for protocol in ("A", "B"):
                if protocol in metrics:
                    steps, values = series.setdefault(f"{set_name}/{protocol}", ([], []))
                    steps.append(int(r["step"]))
                    values.append(float(metrics[protocol]["R@1"]))
    return series


def training_curves_png(runs: Mapping[str, Path], path: Path, sets: tuple[str, ...] | None = None,
                        step_offsets: Mapping[str, int] | None = None) -> None:
    """Left: the JEPA loss term (moving average over 25 steps); right: R@1 (protocols A and B) per validation
    set. step_offsets[label] shifts a run's steps, so a second training phase continues its first."""
    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(13, 4.6))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    markers = ["o", "s", "^", "D", "v"]
    set_markers: dict[str, str] = {}
    for k, (label, run_dir) in enumerate(runs.items()):
        colour = colours[k % len(colours)]
        records = read_metrics(run_dir)
        offset = (step_offsets or {}).get(label, 0)
        steps = [r["step"] + offset for r in records if "loss" in r]
        # runs with an extra loss term log the JEPA term apart; plot it so phases compare
        losses = [r.get("jepa_loss", r["loss"]) for r in records if "loss" in r]
        window = 25
        smooth = [sum(losses[max(0, i - window + 1): i + 1]) / len(losses[max(0, i - window + 1): i + 1])
                  for i in range(len(losses))]
        ax_loss.plot(steps, smooth, color=colour, label=label)
        for name, (vs, values) in validation_series(records).items():
            set_name, protocol = name.rsplit("/", 1)
            if sets is not None and set_name not in sets:
                continue
            marker = set_markers.setdefault(set_name, markers[len(set_markers) % len(markers)])
            ax_val.plot([v + offset for v in vs], values, "-" if protocol == "A" else "--", color=colour,
                        marker=marker, markersize=3, linewidth=1)
    # one legend entry per run (colour), per set (marker) and per protocol (line style)
    handles = [Line2D([], [], color=colours[k % len(colours)], label=label) for k, label in enumerate(runs)]
    handles += [Line2D([], [], color="grey", marker=m, linestyle="none", label=f"set: {n}")
                for n, m in set_markers.items()]
    handles += [Line2D([], [], color="grey", linestyle="-", label="protocol A"),
                Line2D([], [], color="grey", linestyle="--", label="protocol B")]
    ax_val.legend(handles=handles, fontsize=7)
    ax_loss.set(xlabel="step", ylabel="JEPA loss (2 - 2 cos)", title="Training loss, JEPA term (25-step mean)")
    ax_val.set(xlabel="step", ylabel="R@1 (%)", title="Retrieval R@1 during training (A solid, B dashed)")
    ax_loss.legend()
    for ax in (ax_loss, ax_val):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
