"""Beats and downbeats: a beat grid from an onset envelope and a tempo, the meter (3 or 4 beats per bar) and
which beat starts the bar.

Beats come from dynamic-programming beat tracking (Ellis 2007) steered by the tempo estimate, in numpy:
librosa's implementation needs an 8 s import with numba compilation in every indexing worker and server.
The downbeat is the beat phase where bars begin: low-register attacks (kick drum, bass notes) and harmonic
change (chords move on the bar line far more often than elsewhere) concentrate there.
"""

from dataclasses import dataclass

import numpy as np
import scipy.ndimage

METERS = (4, 3)
TIGHTNESS = 100.0  # how strongly beats keep to the tempo estimate (librosa's default)
# A 3/4 reading must beat the 4/4 one by this margin (in the contrast's standard units): most catalogue
# music is in 4, and a 3-beat grouping of 4/4 music can win by chance on a short excerpt.
TRIPLE_MARGIN = 0.25


@dataclass(frozen=True)
class BeatGrid:
    """beats: [B] seconds; beats_per_bar: 3 or 4; downbeat: index in `beats` of the first bar start
    (0 .. beats_per_bar - 1); confidence: how clearly that phase stands out (0 = not at all)."""

    beats: np.ndarray
    beats_per_bar: int
    downbeat: int
    confidence: float

    @property
    def downbeats(self) -> np.ndarray:
        """Bar starts [D] in seconds."""
        return self.beats[self.downbeat :: self.beats_per_bar]

    @property
    def period(self) -> float:
        """Median beat period (s); 0 with fewer than two beats."""
        return float(np.median(np.diff(self.beats))) if len(self.beats) > 1 else 0.0

    @property
    def first_downbeat(self) -> float:
        """Seconds of the first bar start (0 without beats)."""
        return float(self.beats[self.downbeat]) if len(self.beats) > self.downbeat else 0.0

    def stretched(self, ratio: float) -> "BeatGrid":
        """The grid of the same audio played `ratio` times faster."""
        return self if abs(ratio - 1.0) < 1e-6 else BeatGrid(self.beats / ratio, self.beats_per_bar, self.downbeat,
                                                             self.confidence)


def stored_grid(beats: np.ndarray, beats_per_bar: int | None, downbeat_seconds: float | None) -> BeatGrid:
    """A grid from what the index keeps of it: beat times [B] (s), the meter and the first downbeat (s); its
    confidence is not kept (0)."""
    times = np.asarray(beats, dtype=np.float64).reshape(-1)
    meter = int(beats_per_bar or 4)
    first = 0.0 if downbeat_seconds is None else float(downbeat_seconds)
    downbeat = int(np.argmin(np.abs(times - first))) % meter if len(times) else 0
    return BeatGrid(times, meter, downbeat, 0.0)


def track_beats(envelope: np.ndarray, hop: float, bpm: float, tightness: float = TIGHTNESS) -> np.ndarray:
    """Beat times [B] (s) of an onset envelope [N] sampled every `hop` s, steered by a tempo estimate (BPM).

    Ellis's (2007) dynamic programme: every frame's score is its onset strength (smoothed over 1/32 of a
    beat) plus the best score of a predecessor between half and two beats back, less `tightness` times the
    squared log ratio of that gap to the beat period; the best-scoring final beat is then traced back.
    A predecessor lies at least half a beat back, so the frames of each half-beat block depend only on earlier
    blocks and are computed together. Follows librosa's implementation (chain start, last-beat rule).
    """
    env = np.asarray(envelope, dtype=np.float64)
    if bpm <= 0 or len(env) < 4 or not np.any(env):
        return np.zeros(0)
    period = 60.0 / bpm / hop  # frames per beat
    onset = np.maximum(env - np.median(env), 0.0)  # onset strengths are positive; the stored envelope is z-scored
    std = float(onset.std(ddof=1))
    if std <= 0:
        return np.zeros(0)
    width = max(1, round(period))
    window = np.exp(-0.5 * (np.arange(-width, width + 1) * 32.0 / period) ** 2)
    local = np.convolve(onset / std, window, mode="same")
    gaps = np.arange(max(1, round(period / 2)), max(2, round(2 * period)) + 1)
    penalty = -tightness * np.log(gaps / period) ** 2
    n = len(local)
    block = int(gaps[0])
    # The frames padded to whole blocks: frames past the end come after every real one, so they change none.
    # The scores sit behind `reach` zeros (a predecessor before the start scores 0), and every frame's
    # candidates are one strided view of them: candidates[t, j] is the score gaps[j] frames before t. The view
    # follows the scores as they are written, so each block reads its predecessors without gathering them.
    blocks = -(-n // block)
    reach = int(gaps[-1])
    padded = np.zeros(reach + blocks * block)
    padded[reach : reach + n] = local
    score = padded[reach:]
    gains = np.zeros(blocks * block)
    gains[:n] = local
    candidates = np.lib.stride_tricks.sliding_window_view(padded, len(gaps))[:, ::-1]
    step, lag = candidates.strides
    by_block = np.lib.stride_tricks.as_strided(candidates, (blocks, block, len(gaps)), (step * block, step, lag),
                                               writeable=False)
    choice = np.zeros(blocks * block, dtype=np.int64)  # per frame, the index in `gaps` of its best predecessor
    rows = np.arange(block)
    cand = np.empty((block, len(gaps)))
    # the first block has no predecessor and keeps its own strength
    for cands, gain, out, chosen in zip(by_block[1:], gains[block:].reshape(-1, block),
                                        score[block:].reshape(-1, block), choice[block:].reshape(-1, block),
                                        strict=True):
        np.add(cands, penalty, out=cand)
        best = cand.argmax(axis=1)
        np.add(gain, cand[rows, best], out=out)
        chosen[:] = best
    score, choice = score[:n], choice[:n]
    threshold = 0.01 * float(local.max())
    started = np.maximum.accumulate(local >= threshold)  # a chain starts at the first clear onset
    prev = np.arange(n) - gaps[choice]  # before 0 for the first block's frames, which have no predecessor
    back = np.where(started & (prev >= 0), prev, -1)
    last = _last_beat(score)
    beats = []
    while last >= 0:
        beats.append(last)
        last = int(back[last])
    return np.asarray(beats[::-1], dtype=np.float64) * hop


def _last_beat(score: np.ndarray) -> int:
    """The last local maximum of the cumulative score above half the median of all its local maxima."""
    inner = (score[1:-1] > score[:-2]) & (score[1:-1] >= score[2:])
    peaks = np.flatnonzero(inner) + 1
    if not len(peaks):
        return int(np.argmax(score))
    good = peaks[score[peaks] >= 0.5 * float(np.median(score[peaks]))]
    return int(good[-1]) if len(good) else int(peaks[-1])


def _at_beats(values: np.ndarray, beats: np.ndarray, step: float, half_width: float) -> np.ndarray:
    """The maximum of `values` [N] (one every `step` s) within +-half_width s of each beat: [B] (0 for a beat
    whose window holds none of them)."""
    idx = np.round(beats / step).astype(int)
    w = max(0, round(half_width / step))
    if not len(values):
        return np.zeros(len(beats))
    # The running maximum of every 2w + 1 values, read at each beat: the values with w -inf either side, so a
    # window cut by an end holds only the values inside it, and a beat up to w steps beyond an end has one.
    extended = np.full(len(values) + 2 * w, -np.inf)
    extended[w : w + len(values)] = values
    peak = scipy.ndimage.maximum_filter1d(extended, 2 * w + 1, mode="constant", cval=-np.inf)
    inside = (idx >= -w) & (idx < len(values) + w)
    return np.where(inside, peak[np.clip(idx + w, 0, len(extended) - 1)], 0.0)


def _harmonic_change(chroma: np.ndarray, beats: np.ndarray, step: float) -> np.ndarray:
    """Per beat: 1 - cosine between the mean chroma [12] of the beat before it and of the beat after it."""
    idx = np.clip(np.round(beats / step).astype(int), 0, len(chroma))
    bounds = np.concatenate([[0], idx, [len(chroma)]])
    cum = np.concatenate([np.zeros((1, chroma.shape[1])), np.cumsum(chroma, axis=0)])
    means = (cum[bounds[1:]] - cum[bounds[:-1]]) / np.maximum(np.diff(bounds), 1)[:, None]  # [B + 1, 12]
    norms = np.linalg.norm(means, axis=1)
    safe = np.where(norms > 1e-9, norms, 1.0)
    cos = (means[:-1] * means[1:]).sum(axis=1) / (safe[:-1] * safe[1:])
    return np.where((norms[:-1] > 1e-9) & (norms[1:] > 1e-9), 1.0 - cos, 0.0)


def _zscore(x: np.ndarray) -> np.ndarray:
    std = float(x.std())
    return (x - x.mean()) / std if std > 0 else np.zeros_like(x)


def find_downbeats(beats: np.ndarray, low_onsets: np.ndarray, onset_hop: float, chroma: np.ndarray,
                   chroma_hop: float) -> BeatGrid:
    """The meter and bar phase of a beat grid: for each meter in METERS and phase, the mean of the
    standardised low-band attack strength plus harmonic change over the beats of that phase, minus the
    mean over the other phases; the best contrast wins (3/4 needs TRIPLE_MARGIN more)."""
    if len(beats) < 2 * max(METERS):
        return BeatGrid(beats, 4, 0, 0.0)
    evidence = _zscore(_at_beats(low_onsets, beats, onset_hop, 0.05)) + _zscore(
        _harmonic_change(chroma, beats, chroma_hop))
    best: tuple[float, int, int] = (-np.inf, 4, 0)
    for meter in METERS:
        for phase in range(meter):
            on = np.zeros(len(beats), dtype=bool)
            on[phase::meter] = True
            contrast = float(evidence[on].mean() - evidence[~on].mean())
            score = contrast - (TRIPLE_MARGIN if meter == 3 else 0.0)
            if score > best[0]:
                best = (score, meter, phase)
    score, meter, phase = best
    return BeatGrid(beats, meter, phase, max(0.0, score + (TRIPLE_MARGIN if meter == 3 else 0.0)))
