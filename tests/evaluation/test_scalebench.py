"""The scale part of the benchmark: simulated catalogues in the real on-disk format, old vs new, tiny sizes."""

import numpy as np
import pytest
import torch

from evaluation import scalecat
from evaluation.bench import BenchPlan, memory_per_stem
from evaluation.servebench import scale_latency
from indexer.frames import FrameStore, pack_paths
from indexer.snapshot import Build


@pytest.fixture(scope="module")
def tiny_scale(tmp_path_factory):
    root = tmp_path_factory.mktemp("scale")
    return root, scale_latency(BenchPlan.smoke_plan(), torch.device("cpu"), root)


def test_tiny_scale_run_measures_old_and_new_cold_and_warm(tiny_scale):
    _, r = tiny_scale
    got = {(row["variant"], row["cache"]) for row in r["latency"]}
    assert got == {(v, c) for v in ("old", "new") for c in ("cold", "warm")}
    for row in r["latency"]:
        assert row["catalogue"] == 200 and 0 < row["p50_ms"] <= row["p95_ms"]
        assert row["median_align_ms"] > 0  # every hit aligned with the stored signatures
    assert [c["variant"] for c in r["concurrent"]] == ["old", "new"]
    assert all(c["errors"] == 0 and c["requests"] == 2 for c in r["concurrent"])
    # format 3 packs (codes and per-stem parameters) are smaller than format 2's 8-bit rows, kind by kind
    new, old = r["pack_bytes_per_stem"]["format3"], r["pack_bytes_per_stem"]["int8"]
    for kind in ("frames", "onsets", "chroma"):
        assert new[kind] < old[kind] / 2, kind


@pytest.mark.parametrize("fmt", ["int8", "format3"])
def test_simulated_catalogue_reads_through_the_real_build(tiny_scale, fmt):
    root, _ = tiny_scale
    build = Build.load(root / f"cat-200-{fmt}")
    assert build.size(None) == 200
    # format 2 packs under a manifest that readers before format 3 accept (scripts/scale_ab.py's base side)
    assert build.manifest["format"] == {"int8": 1, "format3": 2}[fmt]
    sig = build.signature(9)  # stem 9 reads pool sequence 9 mod 8 = 1, the same rows as stem 1
    assert sig is not None and np.array_equal(sig.chroma, build.signature(1).chroma)
    assert np.array_equal(sig.bands, build.signature(1).bands)  # and the same codec parameters
    assert not np.array_equal(build.frames(1), build.frames(2))
    assert scalecat.drop_cached(root / f"cat-200-{fmt}") > 0


def test_pool_packs_are_the_store_format(tmp_path):
    from indexer.analyses import CODECS

    rows = scalecat.real_rows(None, seconds=4.0)
    lay = scalecat.layout(4.0, 0.16)
    names = scalecat.write_pool(tmp_path, rows, 3, 16, lay, "int8")
    store = FrameStore(tmp_path / "pool-int8", [names["onsets"]], 5)
    assert len(store) == 3 and store.get(0).shape == (lay.onsets, 5)
    assert np.load(pack_paths(tmp_path / "pool-int8", names["frames"])[0], mmap_mode="r").shape == (3 * lay.frames, 18)
    names = scalecat.write_pool(tmp_path, rows, 3, 16, lay, "format3")
    store = FrameStore(tmp_path / "pool-format3", [names["onsets"]], 5, codec=CODECS["onsets"])
    assert len(store) == 3 and store.get(0).shape == (lay.onsets, 5)
    assert np.load(pack_paths(tmp_path / "pool-format3", names["onsets"])[0], mmap_mode="r").dtype == np.uint8


def test_memory_per_stem_counts_the_row_scale_and_alignment_rows():
    m = memory_per_stem("small", 180.0, store_format=2)
    frames = m["frame_bytes"] - 24
    assert frames % (m["frame_dim"] + 2) == 0  # each int8 row carries its 2-byte float16 scale
    assert m["onset_bytes"] == 18_000 * 7 + 24 and m["chroma_bytes"] == 4_500 * 14 + 24
    assert m["mb_per_hour"] == pytest.approx((m["frame_bytes"] + m["onset_bytes"] + m["chroma_bytes"]) * 20 / 1e6)


def test_memory_per_stem_of_format_3_counts_codes_and_parameters():
    from indexer.analyses import CODECS

    m3, m2 = memory_per_stem("small", 180.0), memory_per_stem("small", 180.0, store_format=2)
    assert m3["store_format"] == 3 and m3["frame_dtype"] == "uint8"
    onsets = CODECS["onsets"]
    assert m3["onset_bytes"] == onsets.rows(18_000) * onsets.code_width + 4 * onsets.params + 24
    assert m3["mb_per_hour"] < 1.5 < m2["mb_per_hour"]
    assert sum(v for k, v in m3["mb_per_hour_parts"].items() if k != "faiss") == pytest.approx(m3["mb_per_hour"])
