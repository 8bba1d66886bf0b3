"""Format 3 codecs: byte sizes, round trips close to the input, shapes kept, edge cases."""

import numpy as np
import pytest

from indexer.codecs import BandOnsets, RotatedFrames, RowNibbles


def _unit(rng: np.random.Generator, t: int, d: int) -> np.ndarray:
    x = rng.standard_normal((t, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _onsets(rng: np.random.Generator, n: int) -> np.ndarray:
    """Onset rows [n, 5] as the analysis stores them: sparse positive attacks, z-scored per column."""
    spikes = (rng.random((n, 4)) > 0.9) * rng.random((n, 4)) * 5
    bands = np.stack([np.convolve(c, [1.0, 0.6, 0.3], "same") for c in spikes.T], axis=1)
    rows = np.concatenate([bands.sum(axis=1, keepdims=True), bands], axis=1)
    return ((rows - rows.mean(0)) / rows.std(0)).astype(np.float32)


@pytest.mark.parametrize("dim", [128, 20])
def test_sign_frames_keep_cosines_monotone_in_16_bytes_a_frame(dim: int) -> None:
    rng = np.random.default_rng(0)
    x = _unit(rng, 300, dim)
    codec = RotatedFrames(dim)
    codes, params = codec.encode(x)
    assert codes.dtype == np.uint8 and codes.shape == (300, {128: 16, 20: 4}[dim])  # 20 rotates in 32
    assert params.shape == (0,) and codec.rows(300) == 300
    back = codec.decode(codes, params)
    assert back.shape == x.shape and np.allclose(np.linalg.norm(back, axis=1), 1.0, atol=1e-5)
    # E[cos(x, decoded)] is about sqrt(2 / pi) for a random rotation: 0.8
    assert 0.7 < np.mean(np.sum(back * x, axis=1)) < 0.95
    # nearer frames stay nearer: the decoded similarity grows with the true one
    near = _unit(rng, 300, dim) * 0.3 + x
    near /= np.linalg.norm(near, axis=1, keepdims=True)
    far = _unit(rng, 300, dim)
    assert np.mean(np.sum(codec.decode(*codec.encode(near)) * x, axis=1)) > \
        np.mean(np.sum(codec.decode(*codec.encode(far)) * x, axis=1)) + 0.3
    assert RotatedFrames(128).bytes_per_row() == 16 and RotatedFrames(128, 64).code_width == 8
    assert RotatedFrames(128, 96, bits=2).code_width == 24


def test_sign_frames_agree_across_instances_and_handle_no_frames() -> None:
    x = _unit(np.random.default_rng(1), 5, 128)
    assert np.array_equal(RotatedFrames(128).encode(x)[0], RotatedFrames(128).encode(x)[0])
    codes, params = RotatedFrames(128).encode(np.zeros((0, 128), np.float32))
    assert codes.shape == (0, 16) and RotatedFrames(128).decode(codes, params).shape == (0, 128)


@pytest.mark.parametrize(("step", "bits"), [(2, 8), (2, 4), (1, 8)])
def test_band_onsets_round_trip_at_the_10_ms_rate(step: int, bits: int) -> None:
    rng = np.random.default_rng(2)
    rows = _onsets(rng, 501)
    codec = BandOnsets(bands=4, step=step, bits=bits)
    codes, params = codec.encode(rows)
    assert codes.dtype == np.uint8 and codes.shape == (codec.rows(501), codec.code_width)
    assert len(params) == codec.params and params[0] == 501
    back = codec.decode(codes, params)
    assert back.shape == rows.shape and back.dtype == np.float32
    # the bands keep their shape (at 20 ms only what a 20 ms average keeps: smooth them the same way)
    ref = rows[:, 1:] if step == 1 else np.stack([np.convolve(c, [0.25, 0.5, 0.25], "same") for c in rows[:, 1:].T], 1)
    for j in range(4):
        assert np.corrcoef(back[:, 1 + j], ref[:, j])[0, 1] > (0.99 if step == 1 and bits == 8 else 0.8)
    # the envelope is rebuilt from the bands, z-scored
    assert abs(back[:, 0].mean()) < 1e-4 and back[:, 0].std() == pytest.approx(1.0, abs=1e-3)
    assert np.corrcoef(back[:, 0], rows[:, 0])[0, 1] > 0.8


def test_band_onsets_of_silence_and_of_one_row() -> None:
    codec = BandOnsets(bands=4)
    silent = np.zeros((10, 5), np.float32)
    assert not codec.decode(*codec.encode(silent)).any()
    one = codec.decode(*codec.encode(np.ones((1, 5), np.float32)))
    assert one.shape == (1, 5)


@pytest.mark.parametrize("step", [1, 2])
def test_row_nibbles_keep_unit_chroma_rows(step: int) -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((101, 12)).astype(np.float32)
    x -= x.mean(axis=1, keepdims=True)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    x[5] = 0.0  # silence stays silent
    codec = RowNibbles(width=12, step=step)
    codes, params = codec.encode(x)
    assert codes.shape == (codec.rows(101), 7) and codes.dtype == np.uint8
    back = codec.decode(codes, params)
    assert back.shape == x.shape
    live = np.linalg.norm(back, axis=1) > 0
    assert np.allclose(np.linalg.norm(back[live], axis=1), 1.0, atol=1e-5)
    if step == 1:
        assert not back[5].any()
        assert np.min(np.sum(back * x, axis=1)[np.arange(101) != 5]) > 0.97
    assert codec.bytes_per_row() == 7 / step


@pytest.mark.parametrize(("kept", "bits"), [(96, 2), (128, 2), (64, 1), (20, 2)])
def test_rotated_frames_at_two_bits_keep_more_than_signs(kept: int, bits: int) -> None:
    rng = np.random.default_rng(4)
    x = _unit(rng, 400, 128)
    codec = RotatedFrames(128, kept, bits)
    codes, params = codec.encode(x)
    assert codes.shape == (400, -(-kept * bits // 8))
    back = codec.decode(codes, params)
    assert back.shape == x.shape and np.allclose(np.linalg.norm(back, axis=1), 1.0, atol=1e-5)
    cos = float(np.mean(np.sum(back * x, axis=1)))
    # the share of the frame the kept values carry, times the quantiser's own cosine (0.94 at 2 bits, 0.8 at 1)
    expected = np.sqrt(kept / 128) * (0.94 if bits == 2 else 0.8)
    assert abs(cos - expected) < 0.05


@pytest.mark.parametrize(("dim", "kept", "bits"), [(128, 96, 2), (128, 96, 1), (128, 0, 2), (100, 37, 2), (64, 13, 1)])
def test_frames_decode_by_byte_table_equals_the_unpacked_levels(dim: int, kept: int, bits: int) -> None:
    """Decoding reads each code byte's levels from a table; the same float32 levels as unpacking the codes
    and indexing the levels (the decoder before), so the same frames to the bit."""
    from indexer.codecs import _LEVELS, _back_rotation, _unpack_bits

    codec = RotatedFrames(dim, kept, bits)
    codes, params = codec.encode(_unit(np.random.default_rng(dim + kept + bits), 300, dim))
    want = _LEVELS[bits][_unpack_bits(codes, bits, codec.values)] @ _back_rotation(dim, codec.values)
    want /= np.sqrt(np.maximum(np.einsum("ij,ij->i", want, want), 1e-18))[:, None]
    np.testing.assert_array_equal(codec.decode(codes, params), want)


@pytest.mark.parametrize("n", [9, 501, 18001])
def test_nibble_tables_decode_the_unpacked_values(n: int) -> None:
    """The onset and chroma decoders read each byte's two values from a table; the same float32 values as
    unpacking, converting and subtracting the offset (the decoders before), so the same rows to the bit."""
    from indexer.codecs import _unpack_nibbles, _upsample

    rng = np.random.default_rng(n)
    codec = BandOnsets(bands=4, step=2, bits=4)
    codes, params = codec.encode(_onsets(rng, n))
    coarse = _unpack_nibbles(codes, 4).T.astype(np.float32)
    coarse -= 7
    coarse *= params[1:, None]
    np.testing.assert_array_equal(codec.decode(codes, params)[:, 1:].T, _upsample(coarse, 2, n))
    chroma = np.abs(rng.standard_normal((n, 12))).astype(np.float32)
    rows_codec = RowNibbles(width=12, step=2)
    codes, params = rows_codec.encode(chroma / np.linalg.norm(chroma, axis=1, keepdims=True))
    values = _unpack_nibbles(codes[:, :-1], 12).astype(np.float32)
    values -= 8.0
    values *= codes[:, -1:]
    want = np.ascontiguousarray(_upsample(values.T, 2, n).T)
    norm = np.sqrt(np.einsum("ij,ij->i", want, want))[:, None]
    want /= np.where(norm > 1e-6, norm, np.inf)
    np.testing.assert_array_equal(rows_codec.decode(codes, params), want)
