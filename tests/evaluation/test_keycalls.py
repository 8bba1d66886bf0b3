"""The close-call study: choosing the margin by its rule, and its summary, on calls whose answers are known."""

import numpy as np
import pytest

from evaluation.keycalls import KeyCall, choose_margin, key_calls, summary
from evaluation.songs import EvalSong
from tests.analysis.music import SR, song

C, A_MINOR, G = (0, "major"), (9, "minor"), (7, "major")


def _call(margin: float, best_right: bool, runner_up_right: bool) -> KeyCall:
    best = C if best_right else G
    runner_up = C if runner_up_right else A_MINOR
    return KeyCall("s", "bass", C, best, runner_up, margin)


def test_the_margin_is_the_largest_below_which_the_runner_up_is_right_half_as_often() -> None:
    calls = [_call(0.01, False, True), _call(0.02, True, False), _call(0.03, True, False),
             _call(0.04, True, False), _call(0.5, True, False)]
    # below 0.03: best right 1, runner-up 1 (qualifies); below 0.04: 2 vs 1 (qualifies); below 0.5: 3 vs 1 (no)
    assert choose_margin(calls) == pytest.approx(0.04)
    s = summary(calls, 0.04)
    assert s["queries"] == 5 and s["best_right"] == pytest.approx(80.0) and s["close_calls"] == pytest.approx(60.0)
    assert s["close_runner_up_right"] == pytest.approx(100 / 3) and s["best_or_shown_runner_up_right"] == 100.0
    assert choose_margin([_call(0.1, True, False)]) == 0.0  # no runner-up ever right: nothing is a close call


def test_every_stem_left_out_is_one_query_with_the_songs_key() -> None:
    stems = {"bass": song(110.0, 0).astype(np.float32), "other": song(110.0, 0).astype(np.float32)}
    calls = key_calls([EvalSong("one", stems, {"tonic": 0, "mode": "major"}), EvalSong("unknown", stems, {})], SR)
    assert [c.without for c in calls] == ["bass", "other"] and all(c.truth == C for c in calls)
    assert all(c.best_right and c.margin > 0 and c.runner_up != c.best for c in calls)
