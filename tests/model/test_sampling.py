import numpy as np

from model.audio import rms_dbfs
from model.sampling import active_rows, sample_pair


def test_context_never_contains_target_and_is_never_silent():
    rng = np.random.default_rng(0)
    for trial in range(300):
        stems = np.zeros((4, 8000), dtype=np.float32)
        live = rng.random(4) < 0.6
        for i in np.flatnonzero(live):
            stems[i] = rng.standard_normal(8000) * 0.1
        pair = sample_pair(stems, rng, silence_dbfs=-50.0, gain_jitter_db=6.0)
        if live.sum() < 2:
            assert pair is None
            continue
        assert pair is not None, trial
        assert pair.instrument not in pair.context_rows
        assert 1 <= len(pair.context_rows) <= live.sum() - 1
        assert all(live[i] for i in pair.context_rows)
        assert live[pair.instrument]
        assert rms_dbfs(pair.context) > -50.0
        np.testing.assert_array_equal(pair.target, stems[pair.instrument])


def test_subset_size_covers_one_to_all_others():
    rng = np.random.default_rng(1)
    stems = rng.standard_normal((4, 1000)).astype(np.float32)
    sizes = {len(sample_pair(stems, rng, -50.0).context_rows) for _ in range(200)}  # type: ignore[union-attr]
    assert sizes == {1, 2, 3}


def test_silence_threshold_is_a_level_in_dbfs():
    quiet = np.full((1, 1000), 10 ** (-60 / 20), dtype=np.float32)  # -60 dBFS
    assert active_rows(quiet, -50.0) == []
    assert active_rows(quiet, -70.0) == [0]
