"""The benchmark: smoke plan end to end, its parts and its report."""

import numpy as np
import pytest
import torch

from evaluation.bench import BenchPlan, memory_per_stem, run_bench
from evaluation.benchreport import bench_markdown, write_bench_report
from evaluation.faissbench import clustered_vectors
from evaluation.machine import cpu_peak_gflops, describe, time_call


@pytest.fixture(scope="module")
def smoke_report():
    return run_bench(BenchPlan.smoke_plan(), device="cpu")


def test_smoke_bench_measures_every_part_quickly(smoke_report):
    r = smoke_report
    assert r["machine"]["cores_usable"] >= 1 and r["machine"]["torch"]
    assert r["baselines"]["gemm"]["gflops"] > 0 and r["baselines"]["memory_bandwidth_gbs"] > 0
    enc = r["encoder"][0]
    assert enc["size"] == "tiny" and enc["encoder_chunks_per_s"] > 0 and enc["encoder_gflops"] > 0
    embed, job = r["indexing"]
    assert embed["audio_s_per_s"] > 0
    assert job["stems"] == 4 and job["audio_s_per_s"] > 0 and job["embed_stage_audio_s_per_s"] > 0
    (train,) = r["train"]
    assert train["size"] == "tiny" and train["samples_per_s"] > 0 and train["steps"] == 1
    assert {row["index"].split(",")[0].split(" ")[0] for row in r["faiss"]} >= {"flat"}
    assert all(0 <= row["recall@10"] <= 1 for row in r["faiss"])
    assert r["seconds"] < 60


def test_smoke_bench_measures_retrieve_latency(smoke_report):
    rt = smoke_report["retrieve"]
    assert rt[0]["catalogue"] == 1000 and rt[0]["p50_ms"] <= rt[0]["p95_ms"] <= rt[0]["p99_ms"]
    assert rt[0]["median_embed_ms"] > 0


def test_bench_report_files(smoke_report, tmp_path):
    files = write_bench_report(smoke_report, tmp_path)
    md = bench_markdown(smoke_report)
    assert files[1].read_text() == md
    for heading in (
        "Encoder throughput",
        "Training throughput",
        "Indexing throughput",
        "/retrieve latency",
        "/retrieve at catalogue scale",
        "FAISS",
        "Memory per stem",
        "Physical limits",
        "Baselines measured in this run",
    ):
        assert heading in md


def test_clustered_vectors_are_unit_and_seeded():
    a = clustered_vectors(500, 16, clusters=8)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(a, clustered_vectors(500, 16, clusters=8))


def test_memory_per_stem_counts_vector_and_frames():
    m = memory_per_stem("tiny", stem_seconds=16.0, store_format=2)
    assert m["vector_dim"] == 5 * 64 and m["vector_bytes"] == 320 * 4 + 8
    assert m["frame_bytes"] == 100 * (32 + 2) + 24  # 100 frames of 160 ms, 8-bit with a float16 scale per row
    m3 = memory_per_stem("tiny", stem_seconds=16.0)
    assert m3["frame_bytes"] == 100 * 8 + 24  # format 3: the 32 rotated values at 2 bits, no scale


def test_time_call_and_machine_description():
    import torch

    seconds, iters = time_call(lambda: sum(range(100)), torch.device("cpu"), min_seconds=0.01)
    assert seconds > 0 and iters >= 2
    assert "cpu" in describe(torch.device("cpu"))
    peak, how = cpu_peak_gflops(2)
    assert peak is None or (peak > 0 and "cores" in how)


def test_bench_runs_only_the_parts_asked_for():
    from dataclasses import replace

    report = run_bench(replace(BenchPlan.smoke_plan(), parts=("memory",)), device="cpu")
    assert "memory_per_stem" in report and "encoder" not in report and "faiss" not in report
    md = bench_markdown(report)
    assert md.count("not run (not in --parts)") == 6


def test_faiss_part_measures_uniform_vectors_fp16_flat_and_chosen_probes():
    from dataclasses import replace

    from evaluation.faissbench import faiss_sweep
    from indexer.vectors import default_nlist

    plan = replace(BenchPlan.smoke_plan(), faiss_sizes=(2_000,), faiss_clusters=0, faiss_flat="fp16",
                   faiss_nprobe=(1, 4, 16), faiss_queries=20)
    rows = faiss_sweep(32, plan)
    nlist = default_nlist(2_000)
    assert [r["index"] for r in rows] == ["flat", *(f"IVF{nlist},Flat nprobe={p}" for p in (1, 4, 16))]
    assert rows[0]["storage"] == "fp16" and rows[0]["index_gib"] == 2_000 * (32 * 2 + 8) / 2**30
    recalls = [r["recall@10"] for r in rows[1:]]
    assert recalls == sorted(recalls) and 0 <= recalls[0] <= recalls[-1] <= 1
    uniform = clustered_vectors(300, 8, clusters=0)
    assert np.allclose(np.linalg.norm(uniform, axis=1), 1.0, atol=1e-5)


def test_indexing_part_indexes_the_first_songs_of_a_real_catalogue(tmp_path):
    from dataclasses import replace

    from evaluation.bench import indexing_throughput, write_catalogue

    write_catalogue(tmp_path / "songs", songs=3, seconds=2.0)
    plan = replace(BenchPlan.smoke_plan(), index_catalogue=tmp_path / "songs", index_files=2, index_seconds=4.0)
    embed, job = indexing_throughput(torch.device("cpu"), plan)
    assert embed["model"] == job["model"] == "tiny"
    assert job["stems"] == 8 and job["audio_s"] == 16.0 and "songs" in job["scope"]
