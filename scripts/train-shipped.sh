#!/usr/bin/env bash
# Reproduces the shipped checkpoint and its no-conditioning ablation (MODEL_CARD.md), in two phases:
#   phase 1: pure JEPA (config compact)     -> runs/compact-cond, runs/compact-nocond
#   phase 2: JEPA + pooled InfoNCE from phase 1's weights (compact-nce)
#                                                        -> runs/nce-cond, runs/nce-nocond (shipped)
# MUSDB18-7 train is split by a seeded shuffle into 54 songs to fit and 10 held out to choose the best
# checkpoint; MUSDB18-7 valid is only monitored (logged), never used to choose or tune anything.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared/data}
SPLIT=runs/data
PY=${PY:-.venv/bin/python}
STEPS=${STEPS:-800}
EXTRA_DATA=()
[ -n "${SYNTH:-}" ] && EXTRA_DATA=(--data "$SYNTH")
# held-out synthetic songs (another seed), monitored like MUSDB valid
[ -n "${SYNTH_HOLDOUT:-}" ] && EXTRA_DATA+=(--monitor "$SYNTH_HOLDOUT")

"$PY" -m stemjepa split "$SHARED/musdb18-7/train" --fit "$SPLIT/musdb-fit" --holdout "$SPLIT/musdb-holdout" \
    --holdout-songs 10 --seed 2024
run() {  # $1 = run name, $2 = config, rest = extra flags
    local name=$1 config=$2; shift 2
    "$PY" model/train.py --config "$config" --data "$SPLIT/musdb-fit" "${EXTRA_DATA[@]}" \
        --out "runs/$name" --validate "$SPLIT/musdb-holdout" --monitor "$SHARED/musdb18-7/valid" "$@"
}
NOCOND=(--set model.predictor.conditioned=false)
phase1() { run "compact-$1" compact --steps "$STEPS" "${@:2}"; }
phase2() { run "nce-$1" compact-nce --init "runs/compact-$1/checkpoint.pt" "${@:2}"; }
# The two runs share the machine: one intra-op thread each, so neither starves the other.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
case "${1:-both}" in
    cond) phase1 cond && phase2 cond ;;
    nocond) phase1 nocond "${NOCOND[@]}" && phase2 nocond "${NOCOND[@]}" ;;
    both)
        { phase1 cond && phase2 cond; } > runs/cond.log 2>&1 &
        { phase1 nocond "${NOCOND[@]}" && phase2 nocond "${NOCOND[@]}"; } > runs/nocond.log 2>&1 &
        wait ;;
    *) echo "usage: $0 [cond|nocond|both]" >&2; exit 2 ;;
esac
