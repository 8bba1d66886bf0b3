"""Frame store: packs round-trip frames by stem id, memory-mapped, within the size budget; packs of every
store format are read side by side."""

from pathlib import Path

import numpy as np
import pytest

from indexer.codecs import BandOnsets
from indexer.errors import IndexMismatchError
from indexer.frames import (
    FrameStore,
    dequantise,
    frame_codec,
    is_coded,
    pack_paths,
    params_path,
    quantise,
    row_bytes,
    stored_rows,
    write_pack,
)


def _unit(rng: np.random.Generator, t: int, d: int) -> np.ndarray:
    x = rng.standard_normal((t, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_packs_round_trip_frames_by_id_and_later_packs_win(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    a, b, c = _unit(rng, 5, 16), _unit(rng, 3, 16), _unit(rng, 7, 16)
    write_pack(tmp_path, "frames-000001", [(10, a), (3, b)], 8, 16, np.int8)
    write_pack(tmp_path, "frames-000002", [(10, c)], 7, 16, np.int8)
    store = FrameStore(tmp_path, ["frames-000001", "frames-000002"], 16)
    assert len(store) == 2 and 3 in store and 99 not in store
    np.testing.assert_allclose(store.get(3), b, atol=4e-3)
    np.testing.assert_allclose(store.get(10), c, atol=4e-3)
    assert store.get(99) is None
    assert isinstance(store._data[0], np.memmap)


def test_a_minute_of_frames_at_width_128_fits_in_100_kb_and_in_10_kb_in_format_3(tmp_path: Path) -> None:
    frames_per_minute = round(60 / 0.16)
    frames = _unit(np.random.default_rng(1), frames_per_minute, 128)
    write_pack(tmp_path, "frames-000001", [(1, frames)], frames_per_minute, 128, np.int8)
    write_pack(tmp_path, "frames-000002", [(1, frames)], frames_per_minute, 128, codec=frame_codec(128))
    assert pack_paths(tmp_path, "frames-000001")[0].stat().st_size <= 100_000
    assert pack_paths(tmp_path, "frames-000002")[0].stat().st_size <= 375 * 24 + 128
    assert not is_coded(tmp_path, "frames-000001") and is_coded(tmp_path, "frames-000002")


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
    write_pack(tmp_path, "frames-000002", [(2, new)], 6, 16, np.int8)
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


def test_an_hour_of_int8_frames_at_width_128_is_under_3_mb_and_of_format_3_under_0_6_mb() -> None:
    assert row_bytes(128, np.int8) * 3600 / 0.16 < 3.0e6
    assert row_bytes(128, np.float16) == 256
    assert frame_codec(128).bytes_per_row() * 3600 / 0.16 == 540_000


def test_format_3_packs_are_read_beside_format_1_and_2_and_later_packs_win(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    f1, f2, f3, again = _unit(rng, 4, 16), _unit(rng, 6, 16), _unit(rng, 5, 16), _unit(rng, 3, 16)
    codec = frame_codec(16)
    write_pack(tmp_path, "frames-000001", [(1, f1), (4, again)], 7, 16, np.float16)
    write_pack(tmp_path, "frames-000002", [(2, f2)], 6, 16, np.int8)
    write_pack(tmp_path, "frames-000003", [(3, f3), (4, again)], 8, 16, codec=codec)
    store = FrameStore(tmp_path, ["frames-000001", "frames-000002", "frames-000003"], 16, codec=codec)
    assert [d.dtype for d in store._data] == [np.float16, np.int8, np.uint8]
    np.testing.assert_allclose(store.get(1), f1, atol=1e-3)
    np.testing.assert_allclose(store.get(2), f2, atol=4e-3)
    np.testing.assert_array_equal(store.get(3), codec.decode(*codec.encode(f3)))
    np.testing.assert_array_equal(store.get(4), codec.decode(*codec.encode(again)))  # the newest pack's
    ids, rows = store.first_rows()
    assert ids.tolist() == [1, 2, 3, 4]
    np.testing.assert_array_equal(rows[2], store.get(3)[0])


def test_a_coded_pack_keeps_per_stem_parameters_and_fewer_rows(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    codec = BandOnsets(bands=4, step=2, bits=8)
    a, b = rng.standard_normal((11, 5)).astype(np.float32), rng.standard_normal((4, 5)).astype(np.float32)
    total = stored_rows([11, 4], codec)
    assert total == 6 + 2
    write_pack(tmp_path, "onsets-000001", [(7, a), (9, b)], total, 5, codec=codec)
    assert np.load(params_path(tmp_path, "onsets-000001")).shape == (2, 5)
    store = FrameStore(tmp_path, ["onsets-000001"], 5, codec=codec)
    assert store.get(7).shape == (11, 5) and store.get(9).shape == (4, 5)
    np.testing.assert_array_equal(store.get(9), codec.decode(*codec.encode(b)))
    with pytest.raises(ValueError, match="announced"):
        write_pack(tmp_path, "onsets-000002", [(7, a)], 11, 5, codec=codec)  # 11 rows at 10 ms are 6 stored


def test_a_coded_pack_is_refused_without_its_codec(tmp_path: Path) -> None:
    write_pack(tmp_path, "frames-000001", [(1, _unit(np.random.default_rng(6), 3, 16))], 3, 16, codec=frame_codec(16))
    with pytest.raises(IndexMismatchError):
        FrameStore(tmp_path, ["frames-000001"], 16)
