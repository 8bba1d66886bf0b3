"""How often the runner-up key is the right one, by the best key's margin: the measurement behind the query's
`key_alternative` (analysis.key.CLOSE_CALL_MARGIN).

A query is what a producer uploads: a synthetic song's mix without one of its stems, analysed as the service
analyses an upload. For each, the margin of the best key's correlation over the runner-up's, and whether the
best or the runner-up is the song's key (exact: tonic and major/minor; church modes count by their third, as
evaluation.estimators does). `choose_margin` picks the threshold on a selection set by a rule fixed before
any set was looked at: the largest margin below which the runner-up is the true key at least half as often
as the best one is (a close call); `summary` reports any set at a given threshold.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analysis.key import Key
from analysis.music import analyse
from evaluation.estimators import truth_key
from evaluation.songs import EvalSong

RUNNER_UP_SHARE = 0.5  # a close call: the runner-up is right at least half as often as the best key


@dataclass(frozen=True)
class KeyCall:
    song: str
    without: str
    truth: Key
    best: Key
    runner_up: Key | None
    margin: float

    @property
    def best_right(self) -> bool:
        return self.best == self.truth

    @property
    def runner_up_right(self) -> bool:
        return self.runner_up == self.truth


def key_calls(songs: Sequence[EvalSong], sample_rate: int = 16_000) -> list[KeyCall]:
    """One KeyCall per song with a known key and per stem left out of its mix."""
    calls = []
    for song in songs:
        truth = truth_key(song.metadata)
        if truth is None or len(song.stems) < 2:
            continue
        n = min(len(w) for w in song.stems.values())
        for without in sorted(song.stems):
            mix = np.sum([w[:n] for name, w in song.stems.items() if name != without], axis=0)
            a = analyse(mix.astype(np.float32), sample_rate)
            if np.any(a.key_profile):
                calls.append(KeyCall(song.song_id, without, truth, a.key.key, a.key.runner_up, a.key.confidence))
    return calls


def choose_margin(calls: Sequence[KeyCall], share: float = RUNNER_UP_SHARE) -> float:
    """The largest margin m (one of the observed margins) such that, among calls with a margin below m, the
    runner-up is right at least `share` times as often as the best key; 0 when no m qualifies."""
    margins = np.array([c.margin for c in calls])
    best = np.array([c.best_right for c in calls], dtype=np.float64)
    runner = np.array([c.runner_up_right for c in calls], dtype=np.float64)
    order = np.argsort(margins, kind="stable")
    best_below, runner_below = np.cumsum(best[order]), np.cumsum(runner[order])
    ok = (runner_below >= share * best_below) & (runner_below > 0)
    if not ok.any():
        return 0.0
    last = int(np.flatnonzero(ok)[-1])
    # Strictly below m: m is the next observed margin above the last qualifying one (or just above it).
    return float(margins[order][last + 1]) if last + 1 < len(order) else float(margins[order][last]) + 1e-6


def summary(calls: Sequence[KeyCall], margin: float) -> dict[str, float]:
    """Shares (%) over the calls: best key right; close calls (margin below `margin`) and, among them, best and
    runner-up right; the best or, where shown, the runner-up right."""
    close = [c for c in calls if c.margin < margin]

    def pct(flags: Sequence[bool]) -> float:
        return float(100.0 * np.mean(flags)) if len(flags) else float("nan")

    return {
        "queries": float(len(calls)),
        "best_right": pct([c.best_right for c in calls]),
        "close_calls": pct([c.margin < margin for c in calls]),
        "close_best_right": pct([c.best_right for c in close]),
        "close_runner_up_right": pct([c.runner_up_right for c in close]),
        "best_or_shown_runner_up_right": pct([c.best_right or (c.margin < margin and c.runner_up_right)
                                              for c in calls]),
    }
