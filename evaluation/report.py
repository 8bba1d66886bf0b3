"""Writing evaluation reports: JSON for machines, Markdown tables for people, PNGs beside them."""

import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evaluation import plots
from evaluation.ranking import CATEGORIES


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def fmt(value: float, digits: int = 1) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def write_json(data: Mapping[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, allow_nan=True) + "\n")


def _with_ci(result: Mapping[str, Any], key: str) -> str:
    value = result["metrics"][key]
    ci = result["ci95"].get(key)
    return f"{fmt(value)} [{fmt(ci[0])}, {fmt(ci[1])}]" if ci else fmt(value)


def retrieval_markdown(report: Mapping[str, Any]) -> str:
    systems, insts = report["systems"], report["instruments"]
    keys = ("R@1", "R@5", "R@10", "mean_norm_rank", "median_norm_rank", "same_song_rate")
    head = ["system", "R@1", "R@5", "R@10", "mean NR %", "median NR %", "same-song %"]
    parts = [f"# Retrieval ({report['songs']} songs, {report['queries']} queries, {report['references']} references; "
             f"values in %, [song-level bootstrap 95 % CI, {report['bootstrap_resamples']} resamples])"]
    for protocol, what in (("A", "every stem is a candidate"), ("B", "only stems of the queried instrument")):
        parts.append(f"\n## Protocol {protocol}: {what}\n")
        parts.append(table(head, [[n, *(_with_ci(r[protocol], k) for k in keys)] for n, r in systems.items()]))
    parts.append("\n## Per-instrument R@1 (protocol A / B)\n")
    rows = [[n, *(f"{fmt(r['A']['per_instrument_R@1'].get(i, math.nan))} / {fmt(r['B']['per_instrument_R@1'].get(i, math.nan))}"
                  for i in insts)] for n, r in systems.items()]
    parts.append(table(["system", *insts], rows))
    parts.append("\n## Failure analysis of the top hit (protocol A, % of queries; paper Figure 2)\n")
    for name, r in systems.items():
        parts.append(f"\n**{name}**\n")
        parts.append(table(["queried", *CATEGORIES, "queries"],
                           [[i, *(fmt(row[c]) for c in CATEGORIES), str(int(row["queries"]))] for i, row in r["failure"].items()]))
    parts.append("\n## Confusion: queried (rows) vs top-hit instrument (columns), row %\n")
    for name, r in systems.items():
        conf = r["confusion"]
        parts.append(f"\n**{name}**\n")
        parts.append(table(["queried \\ retrieved", *conf["instruments"]],
                           [[i, *(fmt(v, 0) for v in row)] for i, row in zip(conf["instruments"], conf["percent"], strict=True)]))
    return "\n".join(parts) + "\n"


def write_retrieval_report(report: Mapping[str, Any], out: Path) -> list[Path]:
    """Writes retrieval.json, retrieval.md and the PNGs under `out`; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "retrieval.json", out / "retrieval.md"]
    write_json(report, files[0])
    files[1].write_text(retrieval_markdown(report))
    for protocol in ("A", "B"):
        path = out / f"recall_{protocol}.png"
        plots.recall_png(report["systems"], protocol, path)
        files.append(path)
    for name, r in report["systems"].items():
        if name == "random":
            continue
        for kind, draw in (("failure", plots.failure_png), ("confusion", plots.confusion_png)):
            path = out / f"{kind}_{slug(name)}.png"
            draw(r[kind], name, path)
            files.append(path)
    return files
