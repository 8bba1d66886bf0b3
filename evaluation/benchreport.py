"""The benchmark report: machine, same-run baselines, each part's table and the physical limits."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evaluation.report import fmt, table, write_json


def _skipped(part: Any) -> str | None:
    return part.get("skipped") if isinstance(part, Mapping) else None


def bench_markdown(report: Mapping[str, Any]) -> str:
    m, b = report["machine"], report["baselines"]
    parts = [
        "# Benchmark" + (" (smoke run: reduced sizes)" if report["smoke"] else ""),
        "",
        table(["machine", ""], [[k, str(v)] for k, v in m.items()]),
        "",
        "## Baselines measured in this run",
        "",
        table(
            ["reference", "value"],
            [
                [f"dense matmul {b['gemm']['n']}³ {b['gemm']['dtype']}", f"{b['gemm']['gflops']:.1f} GFLOP/s"],
                ["memory bandwidth (array copy)", f"{b['memory_bandwidth_gbs']:.1f} GB/s"],
                ["CPU fp32 peak (estimate)", f"{fmt(b['cpu_peak_gflops_estimate'], 0)} GFLOP/s = {b['cpu_peak_how']}"],
                *(
                    [["GPU bf16 peak (data sheet)", f"{b['gpu_peak_tflops_bf16']} TFLOP/s"]]
                    if "gpu_peak_tflops_bf16" in b
                    else []
                ),
            ],
        ),
    ]
    parts += [
        "",
        "## Encoder throughput (8 s chunks)",
        "",
        table(
            [
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
            ],
            [
                [
                    e["size"],
                    e["device"],
                    fmt(e["params_m"], 2),
                    fmt(e["gflop_per_chunk"], 2),
                    fmt(e["encoder_chunks_per_s"], 2),
                    fmt(e["encoder_gflops"]),
                    f"{e['ratio_to_gemm']:.2f}",
                    f"{e['encoder_gflops'] / b['cpu_peak_gflops_estimate']:.2f}"
                    if b.get("cpu_peak_gflops_estimate") and e["device"] == "cpu"
                    else "–",
                    fmt(e["query_chunks_per_s"], 2),
                    fmt(e["realtime_factor"]),
                ]
                for e in report["encoder"]
            ],
        ),
    ]
    ix = report["indexing"]
    parts += [
        "",
        "## Indexing throughput",
        "",
        _skipped(ix)
        or table(
            ["model", "stems × s", "audio s / s", "stems / hour", "scope"],
            [
                [
                    ix["model"],
                    f"{ix['stems']} × {ix['stem_seconds']:.0f}",
                    fmt(ix["audio_s_per_s"]),
                    fmt(ix["stems_per_hour"], 0),
                    ix["scope"],
                ]
            ],
        ),
    ]
    rt = report["retrieve"]
    parts += [
        "",
        "## /retrieve latency (end to end, in-process HTTP, k = 10)",
        "",
        _skipped(rt)
        or table(
            ["catalogue", "mix s", "p50 ms", "p95 ms", "p99 ms", "decode", "embed", "search", "align", "embed share"],
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
                for r in rt
            ],
        ),
    ]
    parts += [
        "",
        "## FAISS: flat vs IVF (clustered synthetic unit vectors, single queries, k = 10)",
        "",
        table(
            [
                "vectors",
                "dim",
                "index",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "p50 ms 1 thread",
                "recall@10",
                "speed-up",
                "GiB",
                "build s",
            ],
            [
                [
                    str(r["vectors"]),
                    str(r["dim"]),
                    r["index"],
                    fmt(r["p50_ms"], 3),
                    fmt(r["p95_ms"], 3),
                    fmt(r["p99_ms"], 3),
                    fmt(r["p50_ms_1thread"], 3),
                    fmt(r["recall@10"], 3),
                    fmt(r["speedup_vs_flat"]),
                    fmt(r["index_gib"], 3),
                    fmt(r["build_s"]),
                ]
                for r in report["faiss"]
            ],
        ),
    ]
    parts += [
        "",
        "## Memory per stem (3-minute stem)",
        "",
        table(
            ["model", "vector", "frames", "per stem KiB", "per million stems GiB"],
            [
                [
                    r["model"],
                    f"{r['vector_dim']} × fp32 = {r['vector_bytes']} B",
                    f"{r['frame_dim']} × {r['frame_dtype']} × T = {r['frame_bytes']} B",
                    fmt(r["total_kib"]),
                    fmt(r["per_million_stems_gib"]),
                ]
                for r in report["memory_per_stem"]
            ],
        ),
    ]
    bw = b["memory_bandwidth_gbs"]
    parts += [
        "",
        "## Physical limits",
        "",
        f"- Compute: the encoder is matmul-bound; its ceiling is the measured matmul rate "
        f"({b['gemm']['gflops']:.0f} GFLOP/s here) below the estimated peak "
        f"({fmt(b['cpu_peak_gflops_estimate'], 0)} GFLOP/s).",
        "- Memory: an exact (flat) search reads every vector once, so its floor is index bytes / bandwidth: "
        + "; ".join(
            f"{r['vectors']:,} vectors {r['index_gib'] * 2**30 / (bw * 1e9) * 1000:.2f} ms"
            for r in report["faiss"]
            if r["index"] == "flat"
        )
        + f" at {bw:.0f} GB/s.",
        f"- Total {report['seconds']} s.",
    ]
    return "\n".join(parts) + "\n"


def write_bench_report(report: Mapping[str, Any], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "bench.json", out / "bench.md"]
    write_json(report, files[0])
    files[1].write_text(bench_markdown(report))
    return files
