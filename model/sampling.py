"""Context/target sampling of the paper (3.2): target = one non-silent stem, context = the mix of a random
non-empty subset of the other non-silent stems. Silence is an RMS level below a threshold in dBFS."""

from dataclasses import dataclass

import numpy as np

from model.audio import rms_dbfs


@dataclass(frozen=True)
class Pair:
    context: np.ndarray  # [T] float32 mix of the chosen context stems
    target: np.ndarray  # [T] float32 target stem
    instrument: int  # target's row in the vocabulary
    context_rows: tuple[int, ...]  # vocabulary rows mixed into the context


def active_rows(stems: np.ndarray, silence_dbfs: float) -> list[int]:
    """Rows of [S, T] whose RMS level is above `silence_dbfs`."""
    return [i for i in range(stems.shape[0]) if rms_dbfs(np.asarray(stems[i], dtype=np.float32)) > silence_dbfs]


def sample_pair(
    stems: np.ndarray, rng: np.random.Generator, silence_dbfs: float, gain_jitter_db: float = 0.0
) -> Pair | None:
    """Draws a context/target pair from one chunk [S, T]; None when fewer than two stems are active
    (the caller then redraws the chunk, as the paper does), so the context is never silent."""
    active = active_rows(stems, silence_dbfs)
    if len(active) < 2:
        return None
    target = int(rng.choice(active))
    others = [i for i in active if i != target]
    k = int(rng.integers(1, len(others) + 1))  # uniform in [1, |others|]
    chosen = sorted(int(i) for i in rng.choice(others, size=k, replace=False))
    gains = np.ones(k)
    if gain_jitter_db:
        gains = 10 ** (rng.uniform(-gain_jitter_db, gain_jitter_db, size=k) / 20)
    context = np.zeros(stems.shape[1], dtype=np.float32)
    for g, i in zip(gains, chosen, strict=True):
        context += np.float32(g) * np.asarray(stems[i], dtype=np.float32)
    return Pair(context, np.asarray(stems[target], dtype=np.float32), target, tuple(chosen))
