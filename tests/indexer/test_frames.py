"""Frame store: packs round-trip frames by stem id, memory-mapped, within the size budget."""

from pathlib import Path

import numpy as np

from indexer.frames import FrameStore, pack_paths, write_pack


def _unit(rng: np.random.Generator, t: int, d: int) -> np.ndarray:
    x = rng.standard_normal((t, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_packs_round_trip_frames_by_id_and_later_packs_win(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    a, b, c = _unit(rng, 5, 16), _unit(rng, 3, 16), _unit(rng, 7, 16)
    write_pack(tmp_path, "frames-000001", [(10, a), (3, b)], 8, 16)
    write_pack(tmp_path, "frames-000002", [(10, c)], 7, 16)
    store = FrameStore(tmp_path, ["frames-000001", "frames-000002"], 16)
    assert len(store) == 2 and 3 in store and 99 not in store
    np.testing.assert_allclose(store.get(3), b, atol=1e-3)
    np.testing.assert_allclose(store.get(10), c, atol=1e-3)
    assert store.get(99) is None
    assert isinstance(store._data[0], np.memmap)


def test_a_minute_of_frames_at_width_128_fits_in_100_kb(tmp_path: Path) -> None:
    frames_per_minute = round(60 / 0.16)
    write_pack(tmp_path, "frames-000001", [(1, _unit(np.random.default_rng(1), frames_per_minute, 128))],
               frames_per_minute, 128)
    data, _ = pack_paths(tmp_path, "frames-000001")
    assert data.stat().st_size <= 100_000
