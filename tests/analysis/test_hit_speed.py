"""The faster refined hit (issue 18: slices for the window energies, the correlations' masked sum, every peak's
parabola at once, the query's beat means once per request, the accents' blur by FFT) gives the results of the
code before it (tests/analysis/hit_before, frozen at 633cc59) to the bit: curves, candidates, offsets and
confidences."""

import numpy as np
import pytest
import scipy.ndimage

from analysis import alignment, placement
from analysis.beats import BeatGrid, stored_grid
from analysis.chroma import CHROMA_HOP_STEPS
from analysis.signature import Signature, accents_of, gaussian_taps, stretched, time_scale, zscore_rows
from tests.analysis.hit_before import alignment as before
from tests.analysis.hit_before import placement as placement_before


def _signature(rng: np.random.Generator, n: int, silent_band: bool = True) -> Signature:
    onsets = rng.standard_normal((n, 5)).astype(np.float32)
    onsets[:, 1] = np.convolve(onsets[:, 1], np.ones(9), "same")  # smooth: broad, tied-looking peaks
    if silent_band:
        onsets[:, 2] = 0.0
    chroma = np.abs(rng.standard_normal((max(1, n // CHROMA_HOP_STEPS), 12))).astype(np.float32)
    return Signature.from_stored(onsets, chroma / np.linalg.norm(chroma, axis=1, keepdims=True))


def _unit(rng: np.random.Generator, n: int, d: int = 16) -> np.ndarray:
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _grid(rng: np.random.Generator, seconds: float, period: float = 0.5) -> BeatGrid:
    beats = np.arange(float(rng.uniform(0, period)), seconds, period)
    return stored_grid(beats, int(rng.choice([3, 4])), float(beats[int(rng.integers(0, 4))]))


@pytest.mark.parametrize(("n", "length"), [(18000, 3000), (3000, 3000), (3000, 18000), (40, 7), (5, 30)])
def test_window_energies_equal_the_code_before(n: int, length: int):
    rng = np.random.default_rng(n + length)
    rows = rng.standard_normal((3, n)).astype(np.float32)
    rows[1] = 0.0
    for starts in (np.arange(-(n + 5), length + 5), -np.arange(-(n + 5), length + 5), np.arange(-3, 4) * 7):
        np.testing.assert_array_equal(alignment._floored_window_energies(rows, starts, length),
                                      before._floored_window_energies(rows, starts, length))


def test_clipped_runs_read_what_a_gather_reads():
    rng = np.random.default_rng(0)
    for _ in range(2000):
        n = int(rng.integers(0, 30))
        x = rng.standard_normal((2, n + 1))
        at = int(rng.integers(-45, 45)) + int(rng.choice([1, -1])) * np.arange(int(rng.integers(0, 40)))
        if len(at) > 2 and rng.random() < 0.2:
            at[1] += 1  # not a run: the gather
        np.testing.assert_array_equal(alignment._at_clipped(x, at, n), x[:, np.clip(at, 0, n)])


@pytest.mark.parametrize(("nq", "ns"), [(3000, 18000), (18000, 18000), (18000, 3000), (1500, 1700)])
def test_correlations_equal_the_code_before_to_the_bit(nq: int, ns: int):
    rng = np.random.default_rng(nq + 2 * ns)
    for q_silent, s_silent in ((True, False), (False, True)):  # a silent row on either side
        _correlations_equal(_signature(rng, nq, q_silent), _signature(rng, ns, s_silent))


def _correlations_equal(q: Signature, s: Signature) -> None:
    nq, ns = len(q.envelope), len(s.envelope)
    lags = np.arange(-(ns - 300), nq - 300 + 1)
    min_overlap = max(50, min(nq, ns) // 2)
    for _ in range(2):  # the second call reads the query's kept transforms
        np.testing.assert_array_equal(alignment.band_onset_correlation(q, s, lags, min_overlap),
                                      before.band_onset_correlation(q, s, lags, min_overlap))
        for new, old in zip(alignment.accent_correlations(q, s, lags, min_overlap),
                            before.accent_correlations(q, s, lags, min_overlap), strict=True):
            np.testing.assert_array_equal(new, old)
        np.testing.assert_array_equal(alignment.chroma_correlation(q, s, lags, min_overlap),
                                      before.chroma_correlation(q, s, lags, min_overlap))


@pytest.mark.parametrize("seed", range(8))
def test_peaks_equal_the_code_before_to_the_bit(seed: int):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 5000))
    x = rng.standard_normal(n)
    if seed % 2:
        x = np.round(np.convolve(x, np.ones(25), "same"), 1)  # broad peaks, tied shoulders and plateaus
    if seed % 4 == 3:
        x[: min(n, 3)] = x.max() + 1.0  # the best peak at the curve's first lag
    lags = np.arange(n) - n // 3
    new, old = alignment.FusedCurve(lags, x, {}), before.FusedCurve(lags, x, {})
    for count, separation in ((1, 0.5), (3, 0.5), (96, 0.12), (5000, 0.01), (10, 0.0)):
        assert new.peaks(count, separation) == old.peaks(count, separation)


def test_placement_equals_the_code_before_to_the_bit():
    """Whole refined hits: the fused curve, its candidates, their evidence and the placement, for several
    stems against one query (its beat means kept) and the same query under another beat grid."""
    rng = np.random.default_rng(7)
    q, fq = _signature(rng, 3000), _unit(rng, 188)
    grids = [_grid(rng, 30.0), _grid(rng, 30.0, 0.46)]
    for n_stem in (18000, 2500, 18000):
        s, fs = _signature(rng, n_stem, silent_band=False), _unit(rng, -(-n_stem // 16))
        stem_grid = _grid(rng, n_stem / 100)
        curve = alignment.align_frames(fq, fs, 0.16, 2.0).curve
        new = alignment.fused_curve(curve, 0.16, q, s, alignment.DEFAULT_FUSION)
        old = before.fused_curve(before.align_frames(fq, fs, 0.16, 2.0).curve, 0.16, q, s, before.DEFAULT_FUSION)
        assert new is not None and old is not None
        np.testing.assert_array_equal(new.fused, old.fused)
        offsets = new.peaks(placement.CANDIDATES, placement.CANDIDATE_SEPARATION_SECONDS)
        assert offsets == old.peaks(placement.CANDIDATES, placement.CANDIDATE_SEPARATION_SECONDS)
        for grid in grids:
            for _ in range(2):  # the second reads the query's kept beat means
                np.testing.assert_array_equal(
                    placement.evidence(new, q, s, grid, stem_grid, np.asarray(offsets)),
                    placement_before.evidence(old, q, s, grid, stem_grid, np.asarray(offsets)))
                got = placement.place(new, q, s, grid, stem_grid, placement.DEFAULT_PLACEMENT, 3)
                want = placement_before.place(old, q, s, grid, stem_grid, placement_before.DEFAULT_PLACEMENT, 3)
                assert (got.offsets_seconds, got.confidences) == (want.offsets_seconds, want.confidences)


def test_a_kept_query_beat_mean_is_never_served_for_another_query_or_grid():
    rng = np.random.default_rng(3)
    q1, q2 = _signature(rng, 3000), _signature(rng, 3000)
    s = _signature(rng, 6000)
    g1, g2 = _grid(rng, 30.0), _grid(rng, 30.0, 0.41)
    curve = alignment.align_frames(_unit(rng, 188), _unit(rng, 375), 0.16, 2.0).curve
    for q, grid in ((q1, g1), (q2, g1), (q1, g2), (q2, g2), (q1, g1)):
        fused = alignment.fused_curve(curve, 0.16, q, s, alignment.DEFAULT_FUSION)
        assert fused is not None
        offsets = np.asarray(fused.peaks(20, 0.12))
        np.testing.assert_array_equal(placement.evidence(fused, q, s, grid, None, offsets),
                                      placement_before.evidence(fused, q, s, grid, None, offsets))


@pytest.mark.parametrize("n", [1, 30, 3000, 18000])
def test_accents_by_fft_equal_the_direct_blur(n: int):
    """The float32 accents from the FFT blur are those of scipy's direct correlation (the code before), here
    to the bit; at most a last-bit rounding of float32 could differ."""
    rows = np.random.default_rng(n).standard_normal((4, n)).astype(np.float32)
    direct = scipy.ndimage.correlate1d(rows.astype(np.float64), gaussian_taps(10.0), axis=-1, mode="constant")
    want = zscore_rows(direct)[None]
    np.testing.assert_allclose(accents_of(rows), want, rtol=0, atol=1e-6)
    assert np.mean(accents_of(rows) == want) > 0.999


@pytest.mark.parametrize("stretch", [1.0, 1.0 + 5e-7, 0.93, 1.08])
def test_a_signature_read_stretched_is_the_stretched_signature(stretch: float):
    """Reading a stem conformed (Signature.from_stored with its stretch) blurs the accents once, from the
    stretched bands; the signature is the one stretched after reading, to the bit."""
    rng = np.random.default_rng(11)
    onsets = rng.standard_normal((4000, 5)).astype(np.float32)
    chroma = np.abs(rng.standard_normal((1000, 12))).astype(np.float32)
    got = Signature.from_stored(onsets, chroma, stretch)
    want = stretched(Signature.from_stored(onsets, chroma), stretch)
    for name in ("envelope", "bands", "accents", "chroma"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name))


@pytest.mark.parametrize(("tq", "ts", "d"), [(188, 1125, 128), (1125, 1125, 16), (1125, 188, 16), (3, 7, 5)])
def test_frame_curve_equals_the_code_before_to_the_bit(tq: int, ts: int, d: int):
    rng = np.random.default_rng(tq + ts)
    q = _unit(rng, tq, d)
    for _ in range(2):  # the second reads the query's kept transform
        s = _unit(rng, ts, d)
        new, old = alignment.frame_curve(q, s, 1), before.frame_curve(q, s, 1)
        np.testing.assert_array_equal(new.lags, old.lags)
        np.testing.assert_array_equal(new.similarity, old.similarity)


@pytest.mark.parametrize("columns", [1, 4, 8, 12, 128])
def test_time_scale_equals_np_interp_column_by_column(columns: int):
    """time_scale (a conformed stem's frames, envelopes and chroma) gives np.interp's values, column by column
    as before, to the bit (signed zeros included), at ratios either way and on rounded values (grid hits)."""
    rng = np.random.default_rng(columns)
    for ratio in (0.5, 0.8, 0.93, 1.04, 1.25, 2.0, float(rng.uniform(0.5, 2.0))):
        for n in (2, 3, 57, 1125):
            x = rng.standard_normal((n, columns)).astype(np.float32)
            x[n // 2] = -0.0
            for rows in (x, np.round(x)):
                m = max(1, round(n / ratio))
                at = np.arange(m) * ratio
                want = np.stack([np.interp(at, np.arange(n), c, right=c[-1]) for c in rows.T], axis=1)
                got = time_scale(rows, ratio)
                if m == n:
                    want = rows
                np.testing.assert_array_equal(got.view(np.uint32), want.astype(np.float32).view(np.uint32))
                np.testing.assert_array_equal(time_scale(rows.T, ratio, axis=1).view(np.uint32),
                                              want.astype(np.float32).T.view(np.uint32))
