"""Placement among the fused curve's peaks: bar-level evidence picks the right repeat, confidences are
probabilities, downbeats and beat spans behave, stored grids round-trip."""

import numpy as np
import pytest

from analysis import alignment, placement
from analysis.beats import BeatGrid, stored_grid
from analysis.music import analyse
from tests.analysis.music import tone

SR = 16_000
BEAT = 0.5  # 120 BPM, bars of 2 s
SECTION_ROOTS = {"A": (0, 5, 7, 0), "B": (9, 2, 4, 9)}  # C F G C, then A D E A: one rhythm, two harmonies


def sectioned_song(form: str) -> tuple[np.ndarray, np.ndarray]:
    """(mix, bass) of a song of 4-bar sections in `form` (e.g. "ABAB"): the mix holds a kick on every beat
    and each bar's major triad, the bass plays the bar's root on every beat. Every bar sounds alike in
    rhythm; only the harmony tells the sections, and so the repeats, apart."""
    roots = [r for section in form for r in SECTION_ROOTS[section]]
    n = round(len(roots) * 4 * BEAT * SR)
    mix, bass = np.zeros(n), np.zeros(n)
    kick_t = np.arange(round(0.12 * SR)) / SR
    kick = np.sin(2 * np.pi * 50 * kick_t) * np.exp(-kick_t / 0.03)
    for bar, root in enumerate(roots):
        start = round(bar * 4 * BEAT * SR)
        chord = sum(tone(261.63 * 2 ** ((root + iv) / 12), 4 * BEAT) for iv in (0, 4, 7))
        mix[start : start + len(chord)] += 0.1 * chord[: n - start]
        for beat in range(4):
            at = start + round(beat * BEAT * SR)
            mix[at : at + len(kick)] += kick[: n - at]
            note = tone(65.41 * 2 ** (root / 12), BEAT)
            bass[at : at + len(note)] += 0.3 * note[: n - at]
    return mix.astype(np.float32), bass.astype(np.float32)


def flat_model_curve(n_query: int, n_stem: int) -> alignment.Curve:
    """A model curve that says nothing, over every lag keeping half the shorter signal (0.16 s frames)."""
    q, s = n_query // round(0.16 * SR), n_stem // round(0.16 * SR)
    m = min(q, s) // 2
    lags = np.arange(-(s - m), q - m + 1)
    return alignment.Curve(lags, np.zeros(len(lags), np.float32))


@pytest.fixture(scope="module")
def repeated_sections() -> dict[str, object]:
    """The query: bars 0-15 (ABAB) without bass; the stem: the bass from bar 4 on, trimmed by a beat and a
    bit more, so it starts inside section B (offset 8.27 s)."""
    mix, bass = sectioned_song("ABAB")
    cut = 8.27
    stem = bass[round(cut * SR) :]
    q, s = analyse(mix, SR), analyse(stem, SR)
    curve = flat_model_curve(len(mix), len(stem))
    fused = alignment.fused_curve(curve, 0.16, q.signature, s.stored().signature(), alignment.FusionWeights(onset=1.0))
    assert fused is not None
    return {"cut": cut, "query": q, "stem": s, "fused": fused}


def test_bar_level_harmony_picks_the_right_repeat_where_attacks_fit_every_beat(repeated_sections):
    r = repeated_sections
    fused, q, s = r["fused"], r["query"], r["stem"]
    tops = fused.peaks(8, 0.3)
    # the attacks alone fit every beat about equally: the eight best peaks spread over many bars
    assert max(tops) - min(tops) > 4.0
    assert abs(tops[0] - r["cut"]) > 0.2  # and the previous release's offset, the highest one, is wrong
    found = placement.place(fused, q.signature, s.stored().signature(), q.grid, s.stored().grid(),
                            placement.PlacementWeights(fused=1.0, chroma_beat=2.0), count=3)
    assert found.offsets_seconds[0] == pytest.approx(r["cut"], abs=0.03)


def test_the_shipped_weights_place_the_stem_in_its_own_section(repeated_sections):
    r = repeated_sections
    q, s = r["query"], r["stem"]
    found = placement.place(r["fused"], q.signature, s.stored().signature(), q.grid, s.stored().grid(), count=3)
    assert found.offsets_seconds[0] == pytest.approx(r["cut"], abs=0.03)
    # the right offset is the likeliest, and each runner-up (another beat or bar) less likely
    assert found.confidences == sorted(found.confidences, reverse=True)
    assert all(0.0 <= c <= 1.0 for c in found.confidences) and sum(found.confidences) <= 1.0 + 1e-9
    assert all(abs(a - b) >= 0.5 for i, a in enumerate(found.offsets_seconds) for b in found.offsets_seconds[:i])


def test_a_repeat_a_whole_form_away_loses_on_overlap():
    """Sections ABAB: a bass excerpt of the first AB fits the second AB as well; the offset that keeps the
    whole stem inside the query wins."""
    mix, bass = sectioned_song("ABAB")
    stem = bass[: round(16.0 * SR)]  # the first 8 bars, so the truth is 0 s and the repeat 16 s
    q, s = analyse(mix, SR), analyse(stem, SR).stored()
    fused = alignment.fused_curve(flat_model_curve(len(mix), len(stem)), 0.16, q.signature, s.signature(),
                                  alignment.FusionWeights(onset=1.0))
    assert fused is not None
    offsets = np.array([0.0, 16.0])
    ev = placement.evidence(fused, q.signature, s.signature(), q.grid, s.grid(), offsets)
    overlap = ev[:, placement.PlacementWeights.names().index("overlap")]
    assert overlap[0] == pytest.approx(1.0) and overlap[1] == pytest.approx(1.0)  # both keep the stem inside
    found = placement.place(fused, q.signature, s.signature(), q.grid, s.grid())
    assert min(abs(found.offsets_seconds[0]), abs(found.offsets_seconds[0] - 16.0)) < 0.03


def test_unpitched_stems_get_no_chroma_evidence():
    w = placement.DEFAULT_PLACEMENT.for_instrument("drums")
    assert all(getattr(w, name) == 0.0 for name in placement.HARMONY)
    assert w.fused == placement.DEFAULT_PLACEMENT.fused
    assert placement.DEFAULT_PLACEMENT.for_instrument("bass") is placement.DEFAULT_PLACEMENT


def test_downbeats_on_downbeats_counts_the_shifted_stem_downbeats_that_land():
    query = BeatGrid(np.arange(0.0, 20.0, 0.5), 4, 1, 1.0)  # bars start at 0.5, 2.5, 4.5, ...
    stem = BeatGrid(np.arange(0.0, 10.0, 0.5), 4, 0, 1.0)  # bars start at 0, 2, 4, ...
    share = placement._downbeats_on_downbeats(query, stem, np.array([0.5, 2.5, 1.0, 1.5]))
    assert share.tolist() == [1.0, 1.0, 0.0, 0.0]
    assert placement._downbeats_on_downbeats(query, None, np.array([0.5])).tolist() == [0.0]


def test_beat_spans_cover_the_query_and_fall_back_without_a_grid():
    grid = BeatGrid(np.arange(1.0, 9.0, 0.5), 4, 2, 1.0)
    edges, downbeat = placement.beat_spans(grid, 10.0)
    assert edges[0] <= 0.0 and edges[-1] >= 10.0 and np.allclose(np.diff(edges), 0.5)
    assert edges[downbeat] == pytest.approx(2.0)  # the grid's first downbeat, after the two added beats
    fallback, first = placement.beat_spans(BeatGrid(np.zeros(0), 4, 0, 0.0), 3.0)
    assert first == 0 and fallback[-1] >= 3.0 and np.allclose(np.diff(fallback), placement.FALLBACK_BEAT_SECONDS)


def test_the_stored_grid_is_the_analysed_one():
    mix, _ = sectioned_song("AB")
    a = analyse(mix, SR)
    grid = a.stored().grid()
    assert np.allclose(grid.beats, a.grid.beats, atol=1e-4)
    assert (grid.beats_per_bar, grid.downbeat) == (a.grid.beats_per_bar, a.grid.downbeat)
    assert stored_grid(a.grid.beats, None, None).beats_per_bar == 4
    assert np.allclose(grid.stretched(2.0).beats, a.grid.beats / 2.0, atol=1e-4)


def test_structure_agreement_is_the_correlation_of_the_bar_cosine_matrices():
    rng = np.random.default_rng(3)
    q, s = rng.random((3, 7, 12)), rng.random((3, 7, 12))
    mask = rng.random((3, 7)) > 0.25
    mask[:, :3] = True
    got = placement._ssm_agreement(q, s, mask)
    for k in range(3):
        bars = np.flatnonzero(mask[k])
        upper = np.triu_indices(len(bars), k=1)

        def cosines(x: np.ndarray, bars: np.ndarray = bars) -> np.ndarray:
            c = x[bars] - x[bars].mean(axis=0)
            c /= np.linalg.norm(c, axis=1, keepdims=True)
            return c @ c.T

        assert got[k] == pytest.approx(np.corrcoef(cosines(q[k])[upper], cosines(s[k])[upper])[0, 1], abs=1e-9)


def test_fused_peaks_are_the_highest_maxima_apart_at_10_ms_lags():
    lags = np.arange(-300, 301)
    curve = np.exp(-0.5 * ((lags - 123.3) / 5.0) ** 2) + 0.5 * np.exp(-0.5 * ((lags + 200.0) / 5.0) ** 2)
    fused = alignment.FusedCurve(lags, curve, {})
    first, second = fused.peaks(2, 0.5)
    assert first == pytest.approx(1.233, abs=0.002) and second == pytest.approx(-2.0, abs=0.002)
    every = fused.peaks(1000, 0.5)  # until every lag is masked: each pick masks 99 of the 601 lags
    assert 601 / 99 <= len(every) <= 601 / 50 + 1
    # a pick on a slope at a mask's edge is refined towards its higher neighbour: at most one 10 ms step
    assert all(abs(a - b) >= 0.48 for i, a in enumerate(every) for b in every[:i])
