"""Frame store: packs round-trip frames by stem id, memory-mapped, within the size budget."""

from pathlib import Path

import numpy as np
import pytest

from indexer.errors import IndexMismatchError
from indexer.frames import FrameStore, dequantise, pack_paths, quantise, row_bytes, write_pack


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
    np.testing.assert_allclose(store.get(3), b, atol=4e-3)
    np.testing.assert_allclose(store.get(10), c, atol=4e-3)
    assert store.get(99) is None
    assert isinstance(store._data[0], np.memmap)


def test_a_minute_of_frames_at_width_128_fits_in_100_kb(tmp_path: Path) -> None:
    frames_per_minute = round(60 / 0.16)
    write_pack(tmp_path, "frames-000001", [(1, _unit(np.random.default_rng(1), frames_per_minute, 128))],
               frames_per_minute, 128)
    data, _ = pack_paths(tmp_path, "frames-000001")
    assert data.stat().st_size <= 100_000


def test_quantised_rows_keep_cosines_within_2e3_and_zero_rows_stay_zero() -> None:
    x = _unit(np.random.default_rng(2), 200, 128)
    x[7] = 0.0
    back = dequantise(quantise(x))
    assert back.dtype == np.float32 and back.shape == x.shape
    assert not back[7].any()
    cos = np.sum(back * x, axis=1) / np.maximum(np.linalg.norm(back, axis=1), 1e-9)
    assert np.abs(cos[np.arange(200) != 7] - 1.0).max() < 2e-3
    assert np.abs(back - x).max() <= np.abs(x).max() / 254 + 1e-3


def test_format_1_float16_packs_are_still_read_beside_int8_ones(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    old, new = _unit(rng, 4, 16), _unit(rng, 6, 16)
    write_pack(tmp_path, "frames-000001", [(1, old)], 4, 16, np.float16)
    write_pack(tmp_path, "frames-000002", [(2, new)], 6, 16)
    store = FrameStore(tmp_path, ["frames-000001", "frames-000002"], 16)
    assert store._data[0].dtype == np.float16 and store._data[1].dtype == np.int8
    np.testing.assert_allclose(store.get(1), old, atol=1e-3)
    np.testing.assert_allclose(store.get(2), new, atol=4e-3)
    ids, rows = store.first_rows()
    assert ids.tolist() == [1, 2]
    np.testing.assert_allclose(rows, np.stack([old[0], new[0]]), atol=4e-3)


def test_a_pack_of_an_unknown_format_asks_for_a_rebuild(tmp_path: Path) -> None:
    write_pack(tmp_path, "frames-000001", [(1, np.zeros((2, 4)))], 2, 4, np.float64)
    with pytest.raises(IndexMismatchError, match="rebuild"):
        FrameStore(tmp_path, ["frames-000001"], 4)


def test_an_hour_of_int8_frames_at_width_128_is_under_3_mb() -> None:
    assert row_bytes(128, np.int8) * 3600 / 0.16 < 3.0e6
    assert row_bytes(128, np.float16) == 256
