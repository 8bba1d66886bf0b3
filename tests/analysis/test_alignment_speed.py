"""The sped-up correlations (next fast FFT length, batched rows, the query's transforms kept across hits, the
frame curve's diagonal sums without bincount) give the results of the code before them (alignment_before), to the
rounding of FFTs of other lengths (values of order 1 agree to 1e-7)."""

import numpy as np
import pytest

from analysis import alignment
from analysis.chroma import CHROMA_HOP_STEPS
from analysis.signature import Signature
from tests.analysis import alignment_before as before


def _signature(rng: np.random.Generator, n: int) -> Signature:
    onsets = rng.standard_normal((n, 5)).astype(np.float32)
    onsets[:, 2] = 0.0  # a silent band: its rows are skipped alike
    chroma = np.abs(rng.standard_normal((n // CHROMA_HOP_STEPS, 12))).astype(np.float32)
    return Signature.from_stored(onsets, chroma / np.linalg.norm(chroma, axis=1, keepdims=True))


def _unit(rng: np.random.Generator, n: int, d: int = 16) -> np.ndarray:
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize(("nq", "ns"), [(3000, 18000), (18000, 18000), (18000, 3000), (1500, 1700)])
def test_correlations_equal_the_code_before(nq: int, ns: int):
    rng = np.random.default_rng(nq + ns)
    q, s = _signature(rng, nq), _signature(rng, ns)
    lags = np.arange(-(ns - 300), nq - 300 + 1)
    min_overlap = max(50, min(nq, ns) // 2)
    for _ in range(2):  # the second call reads the query's kept transforms
        np.testing.assert_allclose(alignment.band_onset_correlation(q, s, lags, min_overlap),
                                   before.band_onset_correlation(q, s, lags, min_overlap), rtol=0, atol=1e-7)
        for new, old in zip(alignment.accent_correlations(q, s, lags, min_overlap),
                            before.accent_correlations(q, s, lags, min_overlap), strict=True):
            np.testing.assert_allclose(new, old, rtol=0, atol=1e-7)
        np.testing.assert_allclose(alignment.chroma_correlation(q, s, lags, min_overlap),
                                   before.chroma_correlation(q, s, lags, min_overlap), rtol=0, atol=1e-7)


def test_a_kept_query_transform_is_never_served_for_another_stem_or_query():
    rng = np.random.default_rng(1)
    q1, q2, s1, s2 = _signature(rng, 2000), _signature(rng, 2000), _signature(rng, 6000), _signature(rng, 5000)
    for q in (q1, q2, q1):
        for s in (s1, s2):
            lags = np.arange(-(len(s.envelope) - 200), 2000 - 200 + 1)
            np.testing.assert_allclose(alignment.band_onset_correlation(q, s, lags, 1000),
                                       before.band_onset_correlation(q, s, lags, 1000), rtol=0, atol=1e-7)


@pytest.mark.parametrize(("tq", "ts"), [(188, 1125), (1125, 1125), (1125, 188), (3, 7), (1, 1)])
def test_frame_curve_and_align_frames_equal_the_code_before(tq: int, ts: int):
    rng = np.random.default_rng(tq * ts)
    q, s = _unit(rng, tq), _unit(rng, ts)
    new, old = alignment.frame_curve(q, s, 1), before.frame_curve(q, s, 1)
    np.testing.assert_array_equal(new.lags, old.lags)
    np.testing.assert_allclose(new.similarity, old.similarity, rtol=1e-5, atol=1e-6)
    a, b = alignment.align_frames(q, s, 0.16, 2.0), before.align_frames(q, s, 0.16, 2.0)
    assert a.offset_seconds == pytest.approx(b.offset_seconds, abs=1e-4) and a.score == pytest.approx(b.score, abs=1e-5)


def test_fused_offsets_equal_the_code_before():
    rng = np.random.default_rng(5)
    q, s = _signature(rng, 3000), _signature(rng, 18000)
    fq, fs = _unit(rng, 188), _unit(rng, 1125)
    curve = alignment.align_frames(fq, fs, 0.16, 2.0).curve
    new = alignment.fused_offsets(curve, 0.16, q, s, alignment.DEFAULT_FUSION, 3)
    old = before.fused_offsets(before.align_frames(fq, fs, 0.16, 2.0).curve, 0.16, q, s, before.DEFAULT_FUSION, 3)
    np.testing.assert_allclose(new, old, atol=1e-6)


@pytest.mark.parametrize("seed", range(6))
def test_peaks_by_one_descending_pass_equal_the_masking_search(seed: int):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 4000))
    x = rng.standard_normal(n)
    if seed % 2:
        x = np.round(np.convolve(x, np.ones(25), "same"), 1)  # broad peaks with tied shoulders
    curve = alignment.FusedCurve(np.arange(n) - n // 3, x, {})
    for count, separation in ((1, 0.5), (3, 0.5), (96, 0.12), (5000, 0.01), (10, 0.0)):
        assert curve.peaks(count, separation) == curve._peaks_by_masking(count, separation)
    x[5 % n] = np.nan  # NaN: the masking search itself (NaN offsets compare equal here)
    with_nan = alignment.FusedCurve(curve.lags, x, {})
    np.testing.assert_array_equal(with_nan.peaks(3), with_nan._peaks_by_masking(3, 0.5))


@pytest.mark.parametrize("n", [1, 7, 61, 200, 18000])
def test_gaussian_blur_in_one_call_equals_the_row_by_row_convolution(n: int):
    from analysis.signature import gaussian_blur

    rows = np.random.default_rng(n).standard_normal((3, n)).astype(np.float32)
    for sigma in (10.0, 2.5, 0.3):
        half = max(1, round(3 * sigma))
        taps = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
        taps /= taps.sum()
        want = np.stack([np.convolve(r, taps)[half : half + len(r)] for r in rows])
        np.testing.assert_allclose(gaussian_blur(rows, sigma), want, rtol=0, atol=1e-12)


@pytest.mark.parametrize(("nq", "ns"), [(3000, 18000), (18000, 18000), (18000, 3000)])
def test_shorter_transforms_for_the_scored_lags_equal_the_code_before(nq: int, ns: int):
    """The lags the fusion scores (overlap at least half the shorter side) need a transform a quarter shorter
    than the full correlation for equal lengths: same values there."""
    rng = np.random.default_rng(nq + 2 * ns)
    q, s = _signature(rng, nq), _signature(rng, ns)
    m = max(50, min(nq, ns) // 2)
    lags = np.arange(-(ns - m), nq - m + 1)
    assert alignment._correlation_size(nq, ns, lags) < alignment._fft_size(nq + ns - 1)
    np.testing.assert_allclose(alignment.band_onset_correlation(q, s, lags, m),
                               before.band_onset_correlation(q, s, lags, m), rtol=0, atol=1e-7)
    np.testing.assert_allclose(alignment.chroma_correlation(q, s, lags, m),
                               before.chroma_correlation(q, s, lags, m), rtol=0, atol=1e-7)
    fq, fs = _unit(rng, nq // 16), _unit(rng, ns // 16)
    np.testing.assert_allclose(alignment.frame_curve(fq, fs, min(len(fq), len(fs)) // 2).similarity,
                               before.frame_curve(fq, fs, min(len(fq), len(fs)) // 2).similarity, rtol=1e-5, atol=1e-6)
