"""When is the query's key a close call? Chooses analysis.key.CLOSE_CALL_MARGIN on the synthetic selection set
and reports it, once, on the evaluation set (evaluation.keycalls):

    stemjepa synth runs/sets/compat-select --set selection --workers 2
    stemjepa synth runs/sets/compat-eval --set evaluation --workers 2
    PYTHONPATH=. .venv/bin/python scripts/key_close_calls.py runs/sets/compat-select \\
        --evaluate runs/sets/compat-eval --out docs/model-card/key-close-calls-2026-12-01.json

Each query is a song's mix without one of its stems, at the model's 16 kHz, analysed as an upload is. The
margin is chosen on the selection set only (evaluation.keycalls.choose_margin); the evaluation set is scored
at the chosen margin and at the margin the code ships (analysis.key.CLOSE_CALL_MARGIN), side by side.
"""

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
import torch

from analysis.key import CLOSE_CALL_MARGIN
from evaluation.keycalls import RUNNER_UP_SHARE, KeyCall, choose_margin, key_calls, summary
from evaluation.machine import describe
from evaluation.songs import load_songs

BINS = (0.0, 0.025, 0.05, 0.1, 0.2, 0.4, 2.0)


def _bins(calls: list[KeyCall]) -> list[dict[str, float]]:
    rows = []
    for lo, hi in itertools.pairwise(BINS):
        inside = [c for c in calls if lo <= c.margin < hi]
        rows.append({"margin_from": lo, "margin_to": hi, "queries": len(inside),
                     "best_right": float(100 * np.mean([c.best_right for c in inside])) if inside else float("nan"),
                     "runner_up_right": float(100 * np.mean([c.runner_up_right for c in inside]))
                     if inside else float("nan")})
    return rows


def _print(name: str, calls: list[KeyCall], margins: dict[str, float]) -> dict[str, object]:
    print(f"\n{name}: {len(calls)} queries (mix without one stem)")
    print("  margin       queries  best right %  runner-up right %")
    bins = _bins(calls)
    for r in bins:
        print(f"  {r['margin_from']:.3f}-{r['margin_to']:.3f}  {r['queries']:7d}  {r['best_right']:12.1f}"
              f"  {r['runner_up_right']:17.1f}")
    out: dict[str, object] = {"bins": bins}
    for label, m in margins.items():
        s = summary(calls, m)
        out[label] = {"margin": m, **s}
        print(f"  at margin {m:.4f} ({label}): close calls {s['close_calls']:.1f} %, of which best right "
              f"{s['close_best_right']:.1f} %, runner-up right {s['close_runner_up_right']:.1f} %; best right "
              f"{s['best_right']:.1f} % -> best or shown runner-up {s['best_or_shown_runner_up_right']:.1f} %")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("select", type=Path, help="Synthetic selection songs: the margin is chosen here.")
    p.add_argument("--evaluate", type=Path, default=None, help="Synthetic evaluation songs, scored once.")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()

    select = key_calls(load_songs(args.select, limit=args.limit))
    chosen = choose_margin(select)
    print(f"chosen on {args.select}: margin {chosen:.4f} (runner-up right >= {RUNNER_UP_SHARE} x best right "
          f"below it); shipped: {CLOSE_CALL_MARGIN}")
    report: dict[str, object] = {"machine": describe(torch.device("cpu")), "rule_share": RUNNER_UP_SHARE,
                                 "chosen_margin": chosen, "shipped_margin": CLOSE_CALL_MARGIN}
    margins = {"chosen": chosen, "shipped": CLOSE_CALL_MARGIN}
    report["selection"] = {"data": str(args.select), **_print("selection", select, margins)}
    if args.evaluate:
        evaluation = key_calls(load_songs(args.evaluate, limit=args.limit))
        report["evaluation"] = {"data": str(args.evaluate), **_print("evaluation", evaluation, margins)}
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
