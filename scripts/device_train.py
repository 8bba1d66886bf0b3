"""One prepared GPU training run: the script a lent GPU machine (the `device` tool) runs, start to finish.

    python3 scripts/device_train.py --pack .devpack --out "$OUT" --minutes 6

It caches the pack's songs (scripts/device_pack.py) with every core, trains the runs named by --runs at
the same time on the one GPU (each `model/train.py --minutes`, so each schedule is fitted to the time),
exports each run's best checkpoint (chosen by the MUSDB train hold-out, never by valid) and writes what
comes back under --out: an inference checkpoint small enough to travel whole, int8 pieces otherwise
(model.transport), and logs.tgz with each run's log, metrics, config and the machine's description. It
ends with a table of the runs. Nothing here is GPU-specific: `--device cpu` with tiny overrides is how it
is tested before a lease is spent.
"""

import sys
from pathlib import Path

if __name__ == "__main__" and __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import contextlib
import json
import os
import subprocess
import tarfile
import time

import torch

from evaluation.machine import describe
from model.cache import build_cache
from model.checkpoint import export_inference
from model.instruments import InstrumentVocabulary
from model.train import selection_score
from model.transport import to_pieces

WHOLE_FILE_LIMIT = 15 << 20  # the device tool returns files of at most 16 MiB


def machine() -> dict[str, object]:
    """evaluation.machine.describe of the training device, and nvidia-smi's line where there is one."""
    info: dict[str, object] = dict(describe(torch.device("cuda" if torch.cuda.is_available() else "cpu")))
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):  # no nvidia-smi: the torch facts suffice
        info["nvidia_smi"] = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,clocks.sm,power.limit",
                                             "--format=csv,noheader"], capture_output=True, text=True,
                                            timeout=20).stdout.strip()
    return info


def summary(run_dir: Path) -> dict[str, object]:
    """Steps, speed, last losses and the validation of the best step, from metrics.jsonl."""
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    speed = [r["samples_per_s"] for r in rows if "samples_per_s" in r]
    losses = [r for r in rows if "loss" in r]
    vals = [r for r in rows if "val" in r]

    out: dict[str, object] = {"steps": rows[-1]["step"] if rows else 0,
                              "samples_per_s": round(sorted(speed)[len(speed) // 2], 1) if speed else None,
                              "last_loss": losses[-1]["loss"] if losses else None,
                              "last_jepa": losses[-1]["jepa_loss"] if losses else None}
    if vals:
        best = max(vals, key=lambda r: selection_score(r["val"]["selection"]))
        out["best_step"] = best["step"]
        out["best"] = {name: {"A R@1": m["A"]["R@1"], "B R@1": m["B"]["R@1"], "A mean rank %": m["A"]["mean_norm_rank"]}
                       for name, m in best["val"].items()}
        out["last"] = {name: {"A R@1": m["A"]["R@1"], "B R@1": m["B"]["R@1"]} for name, m in vals[-1]["val"].items()}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pack", type=Path, default=Path(".devpack"))
    p.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "runs/device")))
    p.add_argument("--work", type=Path, default=Path("/tmp/device-train"))
    p.add_argument("--minutes", type=float, default=6.0, help="training time of each run (they run at once)")
    p.add_argument("--runs", default="compact:compact-gpu,small:small-gpu", help="name:config,...")
    p.add_argument("--device", default="cuda")
    p.add_argument("--set", dest="overrides", action="append", default=[], help="override for every run")
    args = p.parse_args()
    t0 = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)
    info = machine()
    (args.work / "machine.json").write_text(json.dumps(info, indent=1))
    print(json.dumps(info), flush=True)

    train_roots = [args.pack / "musdb-fit", args.pack / "synth"]
    cache = args.work / "cache"
    songs = build_cache(train_roots, cache, InstrumentVocabulary(), 16_000)
    print(f"cached {len(songs)} songs in {time.perf_counter() - t0:.0f} s", flush=True)

    runs = [tuple(item.split(":", 1)) for item in args.runs.split(",")]
    procs = {}
    for name, config in runs:
        cmd = [sys.executable, "model/train.py", "--config", config, "--out", str(args.work / name),
               "--validate", str(args.pack / "musdb-holdout"), "--monitor", str(args.pack / "musdb-valid"),
               "--device", args.device, "--minutes", str(args.minutes), "--cache-dir", str(cache)]
        for root in train_roots:
            cmd += ["--data", str(root)]
        for text in args.overrides:
            cmd += ["--set", text]
        log = (args.work / f"{name}.log").open("w")
        procs[name] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ,
                                        "PYTHONUNBUFFERED": "1"}), log)
        print("started", " ".join(cmd), flush=True)
    codes = {}
    for name, (proc, log) in procs.items():
        codes[name] = proc.wait()
        log.close()
        print(f"{name}: exit {codes[name]} at {time.perf_counter() - t0:.0f} s", flush=True)

    table: dict[str, dict[str, object]] = {}
    for name, _ in runs:
        run_dir = args.work / name
        table[name] = {"exit": codes[name]}
        if (run_dir / "metrics.jsonl").exists():
            table[name].update(summary(run_dir))
        best = run_dir / "best.pt"
        if best.exists():
            exported = args.work / f"{name}.pt"
            ckpt = export_inference(best, exported)
            if exported.stat().st_size <= WHOLE_FILE_LIMIT:
                (args.out / f"{name}.pt").write_bytes(exported.read_bytes())
                table[name]["returned"] = f"{name}.pt"
            else:
                pieces = to_pieces(ckpt, args.out, name)
                table[name]["returned"] = f"{len(pieces)} int8 pieces {name}.part*"
    (args.work / "summary.json").write_text(json.dumps(table, indent=1))
    with tarfile.open(args.out / "logs.tgz", "w:gz") as tar:
        for f in sorted(args.work.iterdir()):
            if f.suffix in (".log", ".json"):
                tar.add(f, arcname=f.name)
        for name, _ in runs:
            for f in ("metrics.jsonl", "config.yaml", "run.json"):
                if (args.work / name / f).exists():
                    tar.add(args.work / name / f, arcname=f"{name}/{f}")
    print(f"done in {time.perf_counter() - t0:.0f} s")
    print(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
