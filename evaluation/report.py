"""Writing evaluation reports: JSON for machines, Markdown tables for people, PNGs beside them."""

import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evaluation import plots
from evaluation.compatibility import LEVELS, METRICS, TOP1
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


def _finite(x: Any) -> Any:
    """NaN and infinities become null, so the JSON is standard."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, Mapping):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_finite(v) for v in x]
    return x


def write_json(data: Mapping[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_finite(data), indent=2, allow_nan=False) + "\n")


def write_json_and_markdown(report: Mapping[str, Any], out: Path, name: str, markdown: str) -> list[Path]:
    """Writes OUT/NAME.json (the report) and OUT/NAME.md (its tables); returns both paths."""
    out.mkdir(parents=True, exist_ok=True)
    files = [out / f"{name}.json", out / f"{name}.md"]
    write_json(report, files[0])
    files[1].write_text(markdown)
    return files


def _with_ci(result: Mapping[str, Any], key: str) -> str:
    value = result["metrics"][key]
    ci = result["ci95"].get(key)
    return f"{fmt(value)} [{fmt(ci[0])}, {fmt(ci[1])}]" if ci else fmt(value)


def retrieval_markdown(report: Mapping[str, Any]) -> str:
    systems, insts = report["systems"], report["instruments"]
    keys = ("R@1", "R@5", "R@10", "mean_norm_rank", "median_norm_rank", "same_song_rate")
    head = ["system", "R@1", "R@5", "R@10", "mean NR %", "median NR %", "same-song %"]
    parts = [
        f"# Retrieval ({report['songs']} songs, {report['queries']} queries, {report['references']} references; "
        f"values in %, [song-level bootstrap 95 % CI, {report['bootstrap_resamples']} resamples])"
    ]
    for protocol, what in (("A", "every stem is a candidate"), ("B", "only stems of the queried instrument")):
        parts.append(f"\n## Protocol {protocol}: {what}\n")
        parts.append(table(head, [[n, *(_with_ci(r[protocol], k) for k in keys)] for n, r in systems.items()]))
    parts.append("\n## Per-instrument R@1 (protocol A / B)\n")
    rows = [
        [
            n,
            *(
                f"{fmt(r['A']['per_instrument_R@1'].get(i, math.nan))} / "
                f"{fmt(r['B']['per_instrument_R@1'].get(i, math.nan))}"
                for i in insts
            ),
        ]
        for n, r in systems.items()
    ]
    parts.append(table(["system", *insts], rows))
    parts.append(f"\n## Hubness: distinct stems that are some query's top hit (of {report['queries']} queries)\n")
    parts.append(table(["system", "A", "B"], [[n, fmt(r["A"]["metrics"].get("distinct_top1", math.nan), 0),
                                               fmt(r["B"]["metrics"].get("distinct_top1", math.nan), 0)]
                                              for n, r in systems.items()]))
    parts.append("\n## Failure analysis of the top hit (protocol A, % of queries; paper Figure 2)\n")
    for name, r in systems.items():
        parts.append(f"\n**{name}**\n")
        parts.append(
            table(
                ["queried", *CATEGORIES, "queries"],
                [[i, *(fmt(row[c]) for c in CATEGORIES), str(int(row["queries"]))] for i, row in r["failure"].items()],
            )
        )
    parts.append("\n## Confusion: queried (rows) vs top-hit instrument (columns), row %\n")
    for name, r in systems.items():
        conf = r["confusion"]
        parts.append(f"\n**{name}**\n")
        parts.append(
            table(
                ["queried \\ retrieved", *conf["instruments"]],
                [[i, *(fmt(v, 0) for v in row)] for i, row in zip(conf["instruments"], conf["percent"], strict=True)],
            )
        )
    return "\n".join(parts) + "\n"


def write_retrieval_report(report: Mapping[str, Any], out: Path) -> list[Path]:
    """Writes retrieval.json, retrieval.md and the PNGs under `out`; returns the files written."""
    files = write_json_and_markdown(report, out, "retrieval", retrieval_markdown(report))
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


def alignment_markdown(report: Mapping[str, Any]) -> str:
    r, o = report, report["offset_recovery"]
    rows = [
        ["songs / stem-mix pairs", f"{r['songs']} / {r['pairs']}"],
        [
            "shifts scored",
            f"±{r['max_shift_s']:.2f} s in {r['frame_seconds']:.2f} s steps (overlap ≥ {r['min_overlap_s']:.2f} s)",
        ],
        ["similarity at zero shift (mean over songs)", fmt(r["similarity_at_zero"], 3)],
        ["similarity averaged over all shifts", fmt(r["similarity_mean_over_shifts"], 3)],
        [
            "unrelated pairs: at zero / over all shifts",
            f"{fmt(r['unrelated_at_zero'], 3)} / {fmt(r['unrelated_mean'], 3)}",
        ],
        [
            "songs whose curve peaks at zero shift",
            f"{fmt(r['songs_peaking_at_zero_pct'])} % (chance {fmt(r['chance_peak_at_zero_pct'])} %)",
        ],
        ["stem-mix pairs peaking at zero shift", f"{fmt(r['pairs_peaking_at_zero_pct'])} %"],
    ]
    parts = ["# Alignment (paper 4.3, Figure 4)\n", table(["measure", "value"], rows)]
    if o.get("trials"):
        parts += [
            "\n## Offset recovery (random known shifts)\n",
            table(
                ["measure", "value"],
                [
                    ["trials", str(o["trials"])],
                    [
                        "mean / median / p90 absolute error (s)",
                        " / ".join(fmt(o[k], 3) for k in ("mean_abs_error_s", "median_abs_error_s", "p90_abs_error_s")),
                    ],
                    ["within half a frame (0.08 s)", f"{fmt(o['within_half_frame_pct'])} %"],
                    [
                        "within one frame (0.16 s)",
                        f"{fmt(o['within_frame_pct'])} % (chance ≈ {fmt(o['chance_within_frame_pct'])} %)",
                    ],
                    ["within 1 s", f"{fmt(o['within_1s_pct'])} %"],
                ],
            ),
        ]
    return "\n".join(parts) + "\n"


def write_alignment_report(report: Mapping[str, Any], out: Path) -> list[Path]:
    import numpy as np

    files = [*write_json_and_markdown(report, out, "alignment", alignment_markdown(report)),
             out / "alignment_curves.png"]
    lags = np.asarray(report["lags_s"])
    curves = [np.asarray(c, dtype=float) for c in report["per_song_curves"].values()]
    plots.curves_png(
        lags,
        curves,
        np.asarray(report["mean_curve"], dtype=float),
        np.asarray(report["unrelated_curve"], dtype=float),
        f"stem vs predicted frames, {report['songs']} songs",
        files[2],
    )
    if report["offset_recovery"].get("trials"):
        files.append(out / "offset_errors.png")
        plots.histogram_png(
            np.asarray(report["offset_recovery"]["error_s"]),
            "recovered - true offset (s)",
            f"offset recovery, {report['offset_recovery']['trials']} trials",
            files[-1],
        )
    return files


def content_markdown(report: Mapping[str, Any]) -> str:
    parts = [
        f"# Musical content ({report['songs']} labelled songs, {report['stems']} stems, "
        f"song-grouped {report['folds']}-fold probes)\n"
    ]
    key_rows, tempo_rows = [], []
    for name, r in report.items():
        if name.startswith("key probe"):
            key_rows.append(
                [
                    name.removeprefix("key probe "),
                    fmt(r["accuracy"]),
                    fmt(r["compatible_key_pct"]),
                    fmt(r["majority_class_accuracy"]),
                    fmt(r["chance_accuracy"]),
                ]
            )
        elif name.startswith("tempo probe"):
            tempo_rows.append(
                [
                    name.removeprefix("tempo probe "),
                    fmt(r["mae_bpm"]),
                    fmt(r["within_4pct"]),
                    fmt(r["baseline_mae_bpm"]),
                    fmt(r["baseline_within_4pct"]),
                ]
            )
    parts.append(table(["key probe on", "accuracy %", "compatible key %", "majority class %", "chance %"], key_rows))
    parts.append("")
    parts.append(
        table(["tempo probe on", "MAE BPM", "within 4 %", "mean-tempo MAE BPM", "mean-tempo within 4 %"], tempo_rows)
    )
    c = report["compatibility"]
    parts.append(f"\n## Cross-song compatibility of the top {int(c['top'])} (same instrument, other songs)\n")
    parts.append(
        table(
            ["compatible", "top-10 %", "chance %"],
            [
                ["key (same, relative, fifth)", fmt(c["key_pct"]), fmt(c["key_chance_pct"])],
                ["tempo (within 4 %)", fmt(c["tempo_pct"]), fmt(c["tempo_chance_pct"])],
                ["both", fmt(c["both_pct"]), fmt(c["both_chance_pct"])],
            ],
        )
    )
    return "\n".join(parts) + "\n"


def write_content_report(report: Mapping[str, Any], out: Path) -> list[Path]:
    return write_json_and_markdown(report, out, "content", content_markdown(report))


def analysis_markdown(report: Mapping[str, Any]) -> str:
    head = ["signal", "n", "tempo ±4 %", "±4 % with x2, x3", "octave errors", "n (key)", "key exact",
            "exact or relative", "MIREX", "meter"]
    rows = [[name, fmt(r["tempo_signals"], 0), fmt(r["tempo_within_4pct"]), fmt(r["tempo_within_4pct_octave_allowed"]),
             fmt(r["tempo_octave_errors"]), fmt(r["key_signals"], 0), fmt(r["key_exact"]),
             fmt(r["key_exact_or_relative"]), fmt(r["key_mirex"]), fmt(r["meter_correct"])]
            for name, r in report["signals"].items()]
    return (f"# Music analysis accuracy ({report['songs']} songs, {report['audio_seconds']} s of audio analysed in "
            f"{report['seconds']} s: {report['cpu_seconds_per_audio_minute']} s per minute of audio; values in %)\n\n"
            "Mix = the sum of the song's stems. Key numbers leave out songs whose key the synth engine only "
            "estimated.\n\n" + table(head, rows) + "\n")


def write_analysis_report(report: Mapping[str, Any], out: Path) -> list[Path]:
    return write_json_and_markdown(report, out, "analysis", analysis_markdown(report))


_PROTOCOLS = {"A": "every stem of the other songs is a candidate", "B": "only stems of the queried instrument"}


def compatibility_markdown(report: Mapping[str, Any]) -> str:
    systems, insts = report["systems"], report["instruments"]
    head = ["system", "R@1", "R@10", "mAP", "nDCG@10", "mean NR %", "median NR %"]
    parts = [
        f"# Cross-song compatibility ({report['songs']} songs in {report['groups']} sibling groups, "
        f"{report['variants']} of them variants; {report['queries']} queries, {report['references']} references; "
        f"values in %, [song-level bootstrap 95 % CI, {report['bootstrap_resamples']} resamples])\n",
        "A query is the mix of a song's other stems and names the missing instrument; the song's own stems are "
        "never candidates. NR: rank of the first relevant stem / gallery size.\n",
    ]
    parts += [f"- **{level}**: {report['level_meaning'][level]}; covers {report['coverage'][level]}."
              for level in LEVELS]
    for level in LEVELS:
        for protocol, what in _PROTOCOLS.items():
            first = next(iter(systems.values()))[protocol][level] if systems else None
            size = (
                f" ({first['queries']} queries, gallery {fmt(first['gallery_mean'], 0)}, "
                f"{fmt(first['relevant_mean'])} relevant on average)"
                if first else ""
            )
            parts.append(f"\n## {level.capitalize()} relevance, protocol {protocol}: {what}{size}\n")
            rows = [[n, *(_with_ci(r[protocol][level], k) for k in METRICS)] for n, r in systems.items()]
            parts.append(table(head, rows))
    for level in LEVELS:
        parts.append(f"\n## Per-instrument R@1, {level} relevance (protocol A / B)\n")
        rows = [
            [
                n,
                *(
                    f"{fmt(r['A'][level]['per_instrument_R@1'].get(i, math.nan))} / "
                    f"{fmt(r['B'][level]['per_instrument_R@1'].get(i, math.nan))}"
                    for i in insts
                ),
            ]
            for n, r in systems.items()
        ]
        parts.append(table(["system", *insts], rows))
    for level in LEVELS:
        for protocol in _PROTOCOLS:
            parts.append(f"\n## Top hit, {level} relevance, protocol {protocol} (% of queries)\n")
            rows = [[n, *(fmt(r[protocol][level]["top1"][c]) for c in TOP1)] for n, r in systems.items()]
            parts.append(table(["system", *TOP1], rows))
    parts.append(f"\n## Hubness: distinct stems that are some query's top hit (of {report['queries']} queries; "
                 "conformable level)\n")
    parts.append(table(["system", *_PROTOCOLS], [[n, *(fmt(r[p]["conformable"].get("distinct_top1", math.nan), 0)
                                                      for p in _PROTOCOLS)] for n, r in systems.items()]))
    return "\n".join(parts) + "\n"


def write_compatibility_report(report: Mapping[str, Any], out: Path) -> list[Path]:
    """Writes compatibility.json, compatibility.md and the PNGs under `out`; returns the files written."""
    files = write_json_and_markdown(report, out, "compatibility", compatibility_markdown(report))
    systems = report["systems"]
    for level in LEVELS:
        path = out / f"compat_{level}.png"
        plots.compat_png(systems, level, ("R@1", "R@10", "mAP", "nDCG@10"), path)
        files.append(path)
        for protocol in _PROTOCOLS:
            path = out / f"top1_{level}_{protocol}.png"
            shares = {n: r[protocol][level]["top1"] for n, r in systems.items()}
            plots.top1_png(shares, TOP1, f"top hit, {level} relevance, protocol {protocol}", path)
            files.append(path)
    return files
