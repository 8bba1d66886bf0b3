"""Frame cross-correlation, sub-frame peaks and onset refinement recover known offsets."""

import numpy as np
import pytest

from analysis import alignment, signature

FS = 0.16


def unit_rows(rng: np.random.Generator, n: int, d: int = 32) -> np.ndarray:
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize(("n_query", "n_stem", "lag"), [(60, 30, 12), (30, 60, -20), (50, 50, 0), (40, 70, 5)])
def test_frame_alignment_finds_the_lag_for_shorter_and_longer_stems(n_query: int, n_stem: int, lag: int) -> None:
    rng = np.random.default_rng(lag + 100)
    timeline = unit_rows(rng, 200)
    query = timeline[50 : 50 + n_query]
    stem = timeline[50 + lag : 50 + lag + n_stem]  # stem frame j = query frame j + lag
    noisy = stem + 0.3 * rng.standard_normal(stem.shape).astype(np.float32) / np.sqrt(32)
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    found = alignment.align_frames(query, noisy, FS, min_overlap_seconds=2.0)
    assert found.offset_seconds == pytest.approx(lag * FS, abs=0.02)
    assert found.score > 0.8


def test_edge_lags_with_little_overlap_are_not_scored() -> None:
    rng = np.random.default_rng(1)
    curve = alignment.frame_curve(unit_rows(rng, 40), unit_rows(rng, 30), min_overlap=15)
    assert curve.lags.min() == -(30 - 15) and curve.lags.max() == 40 - 15
    assert alignment.min_overlap_frames(40, 30, 2.0, FS) == 15  # half the shorter beats 2 s (13 frames)
    assert alignment.min_overlap_frames(4, 30, 2.0, FS) == 4  # never more than the shorter sequence


def test_parabolic_peak_refines_below_one_sample() -> None:
    x = np.arange(20, dtype=np.float64)
    position, height = alignment.parabolic_peak(-((x - 7.3) ** 2) + 5.0)
    assert position == pytest.approx(7.3, abs=1e-9) and height == pytest.approx(5.0)
    assert alignment.parabolic_peak(np.array([3.0, 2.0, 1.0]))[0] == 0.0


def clicks(times: np.ndarray, seconds: float, sr: int = 16_000) -> np.ndarray:
    wave = np.zeros(int(seconds * sr), dtype=np.float32)
    burst = np.random.default_rng(0).standard_normal(160).astype(np.float32) * np.exp(-np.arange(160) / 30)
    for t in times:
        i = int(t * sr)
        if 0 <= i < len(wave) - 160:
            wave[i : i + 160] += burst
    return wave


def test_onset_refinement_recovers_a_10ms_offset_near_the_coarse_guess() -> None:
    rng = np.random.default_rng(3)
    onsets = np.sort(rng.uniform(0, 12, 40))
    mix = clicks(onsets, 12.0)
    true_offset = 2.03
    stem = clicks(onsets[onsets > true_offset] - true_offset, 8.0)
    refined = alignment.refine_offset(signature.onset_envelope(mix, 16_000), signature.onset_envelope(stem, 16_000),
                                      coarse_seconds=2.08, window_seconds=0.24, prior_seconds=0.16)
    assert refined is not None and refined == pytest.approx(true_offset, abs=0.011)


def test_onset_refinement_gives_up_without_onsets() -> None:
    silent = signature.onset_envelope(np.zeros(16_000 * 4, dtype=np.float32), 16_000)
    assert alignment.refine_offset(silent, silent, 0.0, 0.24, 0.16) is None


@pytest.mark.parametrize(("n_query", "n_stem"), [(300, 120), (120, 300)])
def test_onset_correlation_matches_direct_computation(n_query: int, n_stem: int):
    """The shorter envelope is normalised by its whole energy, the longer by the stretch under the shorter
    (floored at that stretch's share of its whole energy)."""
    from analysis.alignment import onset_correlation

    rng = np.random.default_rng(5)
    q, s = rng.standard_normal(n_query).astype(np.float32), rng.standard_normal(n_stem).astype(np.float32)
    lags = np.arange(-n_stem + 20, n_query - 20)
    fast = onset_correlation(q, s, lags, min_overlap=60)
    for lag, value in zip(lags, fast, strict=True):
        q0, s0 = max(0, lag), max(0, -lag)
        n = min(len(q) - q0, len(s) - s0)
        if n < 60:
            assert value == 0.0
            continue
        a, b = q[q0:q0 + n].astype(np.float64), s[s0:s0 + n].astype(np.float64)
        long, short, start = (q, s, lag) if n_stem <= n_query else (s, q, -lag)
        window = long[max(0, start):max(0, start + len(short))].astype(np.float64)
        whole = float(long.astype(np.float64) @ long)
        floored = max(float(window @ window), whole * len(short) / len(long))  # never below its share
        energy = np.sqrt(floored * float(short.astype(np.float64) @ short))
        assert abs(value - a @ b / energy) < 1e-6


@pytest.mark.parametrize("seed", [10, 13, 15])  # seeds where whole-energy normalisation of the mix fails
def test_a_short_stem_is_not_drawn_to_the_loudest_passage_of_a_long_mix(seed: int):
    """A soft sparse half and a loud busy half: the stem, half of whose clicks come from the soft part 5 s
    in and half are its own, still lines up there rather than where the mix is loudest."""
    rng = np.random.default_rng(seed)
    soft = np.sort(rng.uniform(0, 30, 30))
    loud = np.sort(rng.uniform(30, 60, 200))
    mix = clicks(soft, 60.0) * 0.05 + clicks(loud, 60.0)
    own = rng.uniform(0, 15, 30)
    stem = clicks(np.concatenate([soft[(soft >= 5) & (soft < 20)] - 5, own]), 15.0)
    q, s = signature.onset_envelope(mix, 16_000), signature.onset_envelope(stem, 16_000)
    lags = np.arange(0, 4500)
    curve = alignment.onset_correlation(q, s, lags, min_overlap=700)
    assert lags[int(np.argmax(curve))] == pytest.approx(500, abs=2)


def tones(freqs_by_second: list[float], sr: int = 16_000) -> np.ndarray:
    """One sine per second at the given frequencies: a melody whose pitch classes change every second."""
    t = np.arange(sr) / sr
    return np.concatenate([0.3 * np.sin(2 * np.pi * f * t) for f in freqs_by_second]).astype(np.float32)


def test_fused_offset_follows_onsets_when_the_model_curve_is_flat():
    from analysis.alignment import Curve, FusionWeights, fused_offset

    rng = np.random.default_rng(6)
    onsets = np.sort(rng.uniform(0, 10, 30))
    mix = clicks(onsets, 10.0)
    stem = clicks(onsets[onsets > 1.28] - 1.28, 8.72)  # the stem starts 1.28 s into the query
    flat = Curve(np.arange(-20, 30), np.zeros(50, dtype=np.float32))
    q, s = signature.signature(mix, 16_000), signature.signature(stem, 16_000)
    got = fused_offset(flat, 0.16, q, s, FusionWeights(onset=1.0))
    assert got is not None and abs(got - 1.28) < 0.011


def test_chroma_correlation_peaks_where_the_harmony_lines_up():
    """A repeating click pattern cannot tell its periods apart; the chroma of a changing chord line can."""
    from analysis.alignment import chroma_correlation

    notes = [220.0, 261.6, 329.6, 392.0, 293.7, 349.2, 246.9, 440.0, 196.0, 311.1]
    query = tones(notes)
    stem = tones(notes[3:])  # starts 3 s into the query
    q, s = signature.signature(query, 16_000), signature.signature(stem, 16_000)
    lags = np.arange(-300, 700)
    curve = chroma_correlation(q, s, lags, min_overlap=100)
    assert lags[int(np.argmax(curve))] == pytest.approx(300, abs=4)  # 40 ms chroma grid
    assert q.chroma.shape[1] == 12 and np.allclose(np.linalg.norm(q.chroma[5:-5], axis=1), 1.0, atol=1e-5)


def test_band_onset_correlation_uses_cross_band_pairs():
    """A low thump in the stem whose attacks coincide with high clicks in the query still aligns."""
    from analysis.alignment import band_onset_correlation

    sr = 16_000
    rng = np.random.default_rng(8)
    onsets = np.sort(rng.uniform(0, 9, 25))
    query = clicks(onsets, 10.0)  # broadband bursts
    t = np.arange(800) / sr
    thump = (np.sin(2 * np.pi * 60 * t) * np.exp(-t * 30)).astype(np.float32)
    stem = np.zeros(int(8 * sr), dtype=np.float32)
    for o in onsets[onsets > 1.5] - 1.5:
        i = int(o * sr)
        if i + 800 < len(stem):
            stem[i : i + 800] += thump
    q, s = signature.signature(query, sr), signature.signature(stem, sr)
    lags = np.arange(-200, 600)
    curve = band_onset_correlation(q, s, lags, min_overlap=100)
    assert lags[int(np.argmax(curve))] == pytest.approx(150, abs=2)


def test_signature_of_silence_and_of_a_blip_is_all_zero_onsets():
    for wave in (np.zeros(16_000 * 3, np.float32), np.zeros(100, np.float32)):
        sig = signature.signature(wave, 16_000)
        assert not np.any(sig.envelope) and not np.any(sig.bands) and not np.any(sig.accents)
        assert sig.accents.shape == (len(signature.ACCENT_SCALES_SECONDS), *sig.bands.shape)
        assert np.isfinite(sig.chroma).all()


def test_accents_align_parts_whose_attacks_do_not_coincide():
    """Two players on the same irregular rhythm, one hitting up to 40 ms early or late on each note and
    in another register: the blurred accents still peak at the true lag, where every note pairs with its
    partner; the sharp onsets need coincidence to 10 ms."""
    from analysis.alignment import accent_correlations

    sr = 16_000
    rng = np.random.default_rng(11)
    onsets = np.sort(rng.choice(np.arange(0.0, 10.0, 0.125), 40, replace=False))  # notes on a 1/8 grid
    query = clicks(onsets, 10.0)
    t = np.arange(800) / sr
    thump = (np.sin(2 * np.pi * 60 * t) * np.exp(-t * 30)).astype(np.float32)
    stem = np.zeros(int(8 * sr), dtype=np.float32)
    for o in onsets[onsets > 1.5] - 1.5 + rng.uniform(-0.04, 0.04, int((onsets > 1.5).sum())):
        i = int(max(o, 0.0) * sr)
        if i + 800 < len(stem):
            stem[i : i + 800] += thump
    q, s = signature.signature(query, sr), signature.signature(stem, sr)
    assert s.accents.shape == (len(signature.ACCENT_SCALES_SECONDS), *s.bands.shape)
    assert np.allclose(s.accents.std(axis=-1)[s.accents.any(axis=-1)], 1.0, atol=1e-4)
    lags = np.arange(-200, 600)
    for curve in accent_correlations(q, s, lags, min_overlap=100):
        assert lags[int(np.argmax(curve))] == pytest.approx(150, abs=4)


def test_fused_offsets_return_the_repeats_of_a_loop_as_runners_up():
    """A two-second click loop fits every two seconds: the best offset and the runners-up are all loop
    repeats, at least the minimum separation apart."""
    from analysis.alignment import Curve, FusionWeights, fused_offsets

    rng = np.random.default_rng(9)
    bar = np.sort(rng.uniform(0, 2.0, 6))
    onsets = np.concatenate([bar + 2.0 * k for k in range(6)])  # 12 s of a 2 s loop
    mix = clicks(onsets, 12.0)
    stem = clicks(onsets[onsets >= 3.0] - 3.0, 4.0)  # 4 s of it, starting 3 s in
    flat = Curve(np.arange(-10, 60), np.zeros(70, dtype=np.float32))
    q, s = signature.signature(mix, 16_000), signature.signature(stem, 16_000)
    got = fused_offsets(flat, 0.16, q, s, FusionWeights(onset=1.0), count=3)
    assert len(got) == 3
    assert all(abs((o - 3.0) / 2.0 - round((o - 3.0) / 2.0)) < 0.01 for o in got), got  # all loop repeats
    assert len({round(o, 1) for o in got}) == 3


@pytest.mark.parametrize(("n_query", "n_stem"), [(900, 500), (500, 900), (600, 600)])
def test_band_pair_sum_equals_the_sum_of_each_pairs_correlation(n_query: int, n_stem: int) -> None:
    """The pair sum is computed in one correlation per row of the longer side; it must equal the plain
    sum over all 16 pairs, a silent row included."""
    from analysis.alignment import band_onset_correlation, onset_correlation

    rng = np.random.default_rng(n_query + n_stem)
    bands_q = rng.standard_normal((4, n_query)).astype(np.float32)
    bands_s = rng.standard_normal((4, n_stem)).astype(np.float32)
    bands_s[2] = 0.0  # a band without onsets
    q = signature.Signature(bands_q[0], bands_q, bands_q[None], np.zeros((1, 12), np.float32))
    s = signature.Signature(bands_s[0], bands_s, bands_s[None], np.zeros((1, 12), np.float32))
    lags = np.arange(-n_stem + 1, n_query)
    expected = sum(onset_correlation(a, b, lags, 100) for a in bands_q for b in bands_s)
    np.testing.assert_allclose(band_onset_correlation(q, s, lags, 100), expected, atol=1e-6)


def test_a_decisive_cue_outweighs_a_row_of_equal_peaks():
    """One curve has a single clear peak; another, weighted more, repeats the same peak every 0.5 s (a beat
    pattern that fits at every beat and is slightly off phase). Summed plainly the repeated peaks win;
    weighted by confidence the decisive peak does."""
    from analysis.alignment import fuse_curves

    rng = np.random.default_rng(12)
    lags = np.arange(1000)
    decisive = 0.3 * rng.standard_normal(1000)
    decisive[300] += 2.0
    periodic = np.cos(2 * np.pi * (lags - 325) / 50)
    plain = fuse_curves([(1.0, decisive), (2.0, periodic)], exponent=0.0)
    confident = fuse_curves([(1.0, decisive), (2.0, periodic)])
    assert int(np.argmax(plain)) % 50 == 25
    assert int(np.argmax(confident)) == 300
    z = (decisive - decisive.mean()) / decisive.std()
    np.testing.assert_allclose(fuse_curves([(1.0, decisive)], exponent=0.0), z)
