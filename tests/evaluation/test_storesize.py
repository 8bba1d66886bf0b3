"""Store size and read cost, format 2 beside format 3: a real build's components per hour of audio, and the
interleaved read-and-decode timing of a pool of stored stems."""

from pathlib import Path

import numpy as np

from evaluation import scalecat
from evaluation.storesize import COMPONENTS, copy_songs, index_size, read_speed
from tests.conftest import write_song


def test_index_size_measures_every_component_of_both_formats(tmp_path: Path, tiny_checkpoint: Path) -> None:
    from model.embed import Embedder

    source = tmp_path / "songs"
    rng = np.random.default_rng(0)
    for i in range(2):
        write_song(source / f"Artist {i} - Song {i}", rng, seconds=4.0)
    catalogue = tmp_path / "catalogue"
    catalogue.mkdir()
    copy_songs([source], catalogue, None)
    embedder = Embedder.from_checkpoint(tiny_checkpoint, device="cpu", batch_size=8)
    two, three = (index_size(catalogue, tmp_path, fmt, embedder) for fmt in (2, 3))
    assert two["stems"] == three["stems"] == 8 and two["audio_hours"] == 8 * 4.0 / 3600
    for r in (two, three):
        assert set(r["bytes"]) == set(COMPONENTS) and all(r["bytes"][k] > 0 for k in COMPONENTS)
        assert r["total_mb_per_hour"] == sum(r["mb_per_hour"].values())
    for kind in ("frames", "onsets", "chroma"):  # the coded packs are smaller, parameters and tables included
        assert three["bytes"][kind] < two["bytes"][kind], kind
    assert three["bytes"]["faiss"] == two["bytes"]["faiss"]


def test_read_speed_times_both_formats_on_the_same_hits(tmp_path: Path) -> None:
    rows = scalecat.real_rows(None, seconds=20.0)
    got = read_speed(tmp_path, rows, 20.0, pool=12, rounds=2, frame_dim=16, hits=4)
    assert set(got) == {2, 3}
    for r in got.values():
        assert r["wall_ms"] > 0 and r["decode_cpu_ms"] >= 0 and r["signature_cpu_ms"] >= 0
