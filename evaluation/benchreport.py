"""The benchmark report: machine, same-run baselines, one table per part, and the physical limits."""

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from evaluation.report import fmt, table, write_json_and_markdown

Section = Callable[[Any, Mapping[str, Any]], str]


def _baselines(b: Mapping[str, Any]) -> str:
    rows = [
        [f"dense matmul {b['gemm']['n']}³ {b['gemm']['dtype']}", f"{b['gemm']['gflops']:.1f} GFLOP/s"],
        ["memory bandwidth (array copy)", f"{b['memory_bandwidth_gbs']:.1f} GB/s"],
        ["CPU fp32 peak (estimate)", f"{fmt(b['cpu_peak_gflops_estimate'], 0)} GFLOP/s = {b['cpu_peak_how']}"],
    ]
    if b.get("gpu_peak_tflops_bf16"):
        rows.append(["GPU bf16 peak (data sheet)", f"{b['gpu_peak_tflops_bf16']} TFLOP/s"])
    return table(["reference", "value"], rows)


def _encoder(rows: list[dict[str, Any]], b: Mapping[str, Any]) -> str:
    peak = b.get("cpu_peak_gflops_estimate")
    head = [
        "size",
        "device",
        "params M",
        "GFLOP/chunk",
        "chunks/s",
        "GFLOP/s",
        "vs matmul",
        "vs peak",
        "query chunks/s",
        "× real time",
    ]
    return table(
        head,
        [
            [
                e["size"],
                e["device"],
                fmt(e["params_m"], 2),
                fmt(e["gflop_per_chunk"], 2),
                fmt(e["encoder_chunks_per_s"], 2),
                fmt(e["encoder_gflops"]),
                f"{e['ratio_to_gemm']:.2f}",
                f"{e['encoder_gflops'] / peak:.2f}" if peak and e["device"] == "cpu" else "–",
                fmt(e["query_chunks_per_s"], 2),
                fmt(e["realtime_factor"]),
            ]
            for e in rows
        ],
    )


def _train(rows: list[dict[str, Any]], _: Mapping[str, Any]) -> str:
    head = ["size", "device", "encoder params M", "batch", "timed steps", "samples/s"]
    return table(
        head,
        [[r["size"], r["device"], fmt(r["params_m"], 2), str(r["batch"]), str(r["steps"]), fmt(r["samples_per_s"])]
         for r in rows],
    )


def _indexing(rows: list[dict[str, Any]], _: Mapping[str, Any]) -> str:
    head = ["model", "scope", "stems", "audio s", "wall s", "audio s / s", "embed stage audio s / s",
            "vs embedding stage"]
    out = []
    for r in rows:
        out.append(
            [
                r["model"],
                r["scope"],
                str(r["stems"]),
                fmt(r["audio_s"], 0),
                fmt(r["wall_s"]),
                fmt(r["audio_s_per_s"]),
                fmt(r["embed_stage_audio_s_per_s"]) if "embed_stage_audio_s_per_s" in r else "–",
                f"{r['ratio_to_embedding']:.2f}",
            ]
        )
    return table(head, out)


def _retrieve(rows: list[dict[str, Any]], _: Mapping[str, Any]) -> str:
    head = ["catalogue", "mix s", "p50 ms", "p95 ms", "p99 ms", "decode", "embed", "search", "align", "embed share"]
    return table(
        head,
        [
            [
                str(r["catalogue"]),
                fmt(r["mix_seconds"], 0),
                fmt(r["p50_ms"]),
                fmt(r["p95_ms"]),
                fmt(r["p99_ms"]),
                fmt(r["median_decode_ms"]),
                fmt(r["median_embed_ms"]),
                fmt(r["median_search_ms"]),
                fmt(r["median_align_ms"]),
                f"{r['embed_share']:.2f}",
            ]
            for r in rows
        ],
    )


def _faiss(rows: list[dict[str, Any]], _: Mapping[str, Any]) -> str:
    head = [
        "vectors",
        "dim",
        "index",
        "storage",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "p50 ms 1 thread",
        "recall@10",
        "speed-up",
        "GiB",
        "build s",
    ]
    return table(
        head,
        [
            [
                f"{r['vectors']:,}",
                str(r["dim"]),
                r["index"],
                r.get("storage", "fp32"),
                fmt(r["p50_ms"], 3),
                fmt(r["p95_ms"], 3),
                fmt(r["p99_ms"], 3),
                fmt(r["p50_ms_1thread"], 3),
                fmt(r["recall@10"], 3),
                fmt(r["speedup_vs_flat"]),
                fmt(r["index_gib"], 3),
                fmt(r["build_s"]),
            ]
            for r in rows
        ],
    )


def _memory(rows: list[dict[str, Any]], _: Mapping[str, Any]) -> str:
    return table(
        ["model", "store format", "vector", "frames", "onsets + chroma", "MB per hour (frames + onsets + chroma)",
         "frames / onsets / chroma / FAISS MB per hour", "per stem KiB", "per million stems GiB"],
        [
            [
                r["model"],
                str(r.get("store_format", 2)),
                f"{r['vector_dim']} × fp32 = {r['vector_bytes']} B",
                f"{r['frame_dim']}-d × {r['frame_dtype']} × T = {r['frame_bytes']} B",
                f"{r['onset_bytes']} + {r['chroma_bytes']} B",
                fmt(r["mb_per_hour"], 2),
                " / ".join(fmt(r["mb_per_hour_parts"][k], 2) for k in ("frames", "onsets", "chroma", "faiss"))
                if "mb_per_hour_parts" in r else "",
                fmt(r["total_kib"]),
                fmt(r["per_million_stems_gib"]),
            ]
            for r in rows
        ],
    )


def _scale(s: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    lat = s["latency"]
    old = {(r["catalogue"], r["mix_seconds"], r["cache"]): r for r in lat if r["variant"] == "old"}
    head = ["stems", "mix s", "cache", "old p50 ms", "old p95 ms", "new p50 ms", "new p95 ms", "new/old p50",
            "new align ms", "new CPU ms"]
    rows = []
    for r in lat:
        o = old.get((r["catalogue"], r["mix_seconds"], r["cache"]))
        if r["variant"] != "new" or o is None:
            continue
        rows.append([f"{r['catalogue']:,}", fmt(r["mix_seconds"], 0), r["cache"], fmt(o["p50_ms"], 0),
                     fmt(o["p95_ms"], 0), fmt(r["p50_ms"], 0), fmt(r["p95_ms"], 0), f"{r['p50_ms'] / o['p50_ms']:.2f}",
                     fmt(r["median_align_ms"], 0), fmt(r["median_cpu_ms"], 0)])
    variants = ", ".join(f"{k}: {f} packs, {t} thread(s)" for k, (f, t) in s["variants"].items())
    conc = table(["stems", "variant", "clients", "requests", "errors", "req/s", "CPU s/req", "p50 ms", "p95 ms"],
                 [[f"{c['catalogue']:,}", c["variant"], str(c["clients"]), str(c["requests"]), str(c["errors"]),
                   fmt(c["requests_per_s"], 2), fmt(c["cpu_s_per_request"], 2), fmt(c["p50_ms"], 0),
                   fmt(c["p95_ms"], 0)] for c in s["concurrent"]])
    packs = "; ".join(f"{fmt_}: " + ", ".join(f"{k} {v / 1024:.0f} KiB" for k, v in per.items())
                      for fmt_, per in s["pack_bytes_per_stem"].items())
    return "\n".join([
        f"Variants, interleaved request by request: {variants}. Stems of {s['stem_seconds']:.0f} s; "
        f"{s['pool']} distinct stems' rows in the packs (real onset/chroma rows of {', '.join(s['real_rows'])}); "
        "vectors, features, frames and metadata simulated (evaluation/scalecat.py). Cold: every pack dropped "
        "from the page cache before the request; warm: the same request again.", "",
        table(head, rows), "", f"Pack bytes per stem: {packs}.", "", conc])


SECTIONS: tuple[tuple[str, str, Section], ...] = (
    ("encoder", "Encoder throughput (8 s chunks)", _encoder),
    ("train", "Training throughput (full steps on random 8 s chunks)", _train),
    ("indexing", "Indexing throughput", _indexing),
    ("retrieve", "/retrieve latency (end to end, in-process HTTP, k = 10)", _retrieve),
    ("scale", "/retrieve at catalogue scale (Retriever in-process, real on-disk format, old vs new)", _scale),
    ("faiss", "FAISS: flat vs IVF (synthetic unit vectors, single queries, k = 10)", _faiss),
    ("memory_per_stem", "Memory per stem (3-minute stem)", _memory),
)


def _limits(report: Mapping[str, Any]) -> list[str]:
    b = report["baselines"]
    bw = b["memory_bandwidth_gbs"]
    lines = [
        f"- Compute: the encoder is matmul-bound; its ceiling is the measured matmul rate "
        f"({b['gemm']['gflops']:.0f} GFLOP/s here), below the estimated peak "
        f"({fmt(b['cpu_peak_gflops_estimate'], 0)} GFLOP/s)."
    ]
    flats = [r for r in report.get("faiss", []) if r["index"] == "flat"]
    if flats:
        floors = "; ".join(
            f"{r['vectors']:,} vectors {r['index_gib'] * 2**30 / (bw * 1e9) * 1000:.2f} ms" for r in flats
        )
        lines.append(
            f"- Memory: an exact (flat) search reads every vector once, so its floor is index bytes / "
            f"bandwidth: {floors} at {bw:.0f} GB/s."
        )
    lines.append(f"- Total {report['seconds']} s.")
    return lines


def bench_markdown(report: Mapping[str, Any]) -> str:
    parts = [
        "# Benchmark" + (" (smoke run: reduced sizes)" if report["smoke"] else ""),
        "",
        table(["machine", ""], [[k, str(v)] for k, v in report["machine"].items()]),
        "",
        "## Baselines measured in this run",
        "",
        _baselines(report["baselines"]),
    ]
    for key, title, render in SECTIONS:
        parts += ["", f"## {title}", ""]
        parts.append(render(report[key], report["baselines"]) if key in report else "not run (not in --parts)")
    parts += ["", "## Physical limits", "", *_limits(report)]
    return "\n".join(parts) + "\n"


def write_bench_report(report: Mapping[str, Any], out: Path) -> list[Path]:
    return write_json_and_markdown(report, out, "bench", bench_markdown(report))
