#!/usr/bin/env bash
# Ships a trained run as the default checkpoint and measures it for MODEL_CARD.md:
#   1. export the chosen weights of $COND_RUN (default runs/nce-cond/checkpoint.pt) without optimiser state, in
#      float16, with positional frame centres fitted on the training data;
#   2. `stemjepa eval retrieval` on MUSDB18-7 valid: shipped model, no-conditioning ablation, random and
#      mashability baselines, in one run;
#   3. training curves and the figures the card shows, into docs/model-card/;
#   4. model/checkpoints/stemjepa-default.json: the card's validation figures, which CI re-checks.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
SHARED=${SHARED:-../shared/data}
SYNTH=${SYNTH:-/work/corpus/synth-train}
CENTRE_DATA=(--centre-data runs/data/musdb-fit --centre-data "$SYNTH")
COND_RUN=${COND_RUN:-runs/nce-cond/checkpoint.pt}
NOCOND_RUN=${NOCOND_RUN:-runs/nce-nocond/checkpoint.pt}
OUT=runs/eval/shipped
DOCS=docs/model-card

.venv/bin/stemjepa export "$COND_RUN" model/checkpoints/stemjepa-default.pt "${CENTRE_DATA[@]}"
.venv/bin/stemjepa export "$NOCOND_RUN" runs/ablation-no-conditioning.pt "${CENTRE_DATA[@]}"
.venv/bin/stemjepa eval retrieval "$SHARED/musdb18-7/valid" -c model/checkpoints/stemjepa-default.pt \
    -c runs/ablation-no-conditioning.pt --out "$OUT" --device cpu
mkdir -p "$DOCS"
"$PY" - "$OUT" "$DOCS" <<'PY'
import json, shutil, sys
from pathlib import Path
from evaluation.training import training_curves_png
from model.checkpoint import file_sha256, load_checkpoint
out, docs = Path(sys.argv[1]), Path(sys.argv[2])
runs = {"conditioned, phase 1": Path("runs/compact-cond"), "no conditioning, phase 1": Path("runs/compact-nocond"),
        "conditioned, phase 2": Path("runs/nce-cond"), "no conditioning, phase 2": Path("runs/nce-nocond")}
phase1_steps = {label: json.loads(line)["step"] for label in runs if "phase 1" in label
                for line in (runs[label] / "metrics.jsonl").read_text().splitlines()[-1:]}
offsets = {label: phase1_steps[label.replace("phase 2", "phase 1")] for label in runs if "phase 2" in label}
training_curves_png(runs, docs / "training-curves.png", sets=("selection", "valid"), step_offsets=offsets)
for png in ("recall_A.png", "recall_B.png"):
    shutil.copy(out / png, docs / png)
for png in out.glob("*stemjepa-default*target*.png"):
    shutil.copy(png, docs / png.name.replace("checkpoints-stemjepa-default-", ""))
report = json.loads((out / "retrieval.json").read_text())
systems = report["systems"]
ship = next(k for k in systems if "stemjepa-default" in k and k.endswith("target"))
shipped = Path("model/checkpoints/stemjepa-default.pt")
ckpt = load_checkpoint(shipped)
figures = {
    "checkpoint_sha256": file_sha256(shipped),
    "step": ckpt["step"],
    "selection": ckpt.get("metrics", {}),
    "system": ship,
    "musdb18-7-valid": {p: systems[ship][p]["metrics"] for p in ("A", "B")},
    "all_systems": {name: {p: {**s[p]["metrics"], "ci95": s[p]["ci95"],
                               "per_instrument_R@1": s[p]["per_instrument_R@1"]} for p in ("A", "B")}
                    for name, s in systems.items()},
}
Path("model/checkpoints/stemjepa-default.json").write_text(json.dumps(figures, indent=2) + "\n")
print(json.dumps(figures["musdb18-7-valid"], indent=1))
PY
