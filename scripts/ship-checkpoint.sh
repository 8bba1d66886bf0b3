#!/usr/bin/env bash
# Ships a trained run as the default checkpoint and measures it for MODEL_CARD.md:
#   1. export the chosen weights of $COND_RUN (default runs/nce-cond/checkpoint.pt) without optimiser state, in
#      float16, with positional frame centres fitted on the training data;
#   1b. `stemjepa predictor-units` on the same training songs: which predictor units ever fire, so that queries
#      skip the rest (model.querypredictor; the sidecar is tied to the checkpoint's hash);
#   2. `stemjepa eval retrieval` on MUSDB18-7 valid: shipped model, no-conditioning ablation, random and
#      mashability baselines, in one run;
#   3. `stemjepa eval card` (evaluation/card.py): training curves and the figures the card shows, into
#      docs/model-card/, and model/checkpoints/stemjepa-default.json, the card's validation figures that CI
#      re-checks.
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
.venv/bin/stemjepa predictor-units --data runs/data/musdb-fit --data "$SYNTH" -c model/checkpoints/stemjepa-default.pt
.venv/bin/stemjepa predictor-units --data runs/data/musdb-fit --data "$SYNTH" -c runs/ablation-no-conditioning.pt
.venv/bin/stemjepa eval retrieval "$SHARED/musdb18-7/valid" -c model/checkpoints/stemjepa-default.pt \
    -c runs/ablation-no-conditioning.pt --out "$OUT" --device cpu
"$PY" -m stemjepa eval card "$OUT" --checkpoint model/checkpoints/stemjepa-default.pt --docs "$DOCS" --runs runs
