"""What a build keeps for every query: the musical shortlist's prepared candidates and, for a flat index, the
vectors read by id; both give what the per-query path gives."""

from pathlib import Path

import numpy as np
import pytest

from analysis.compatibility import prepare
from evaluation import scalecat
from evaluation.faissbench import clustered_vectors
from evaluation.servebench import _features
from indexer import vectors
from indexer.snapshot import Build

INSTRUMENTS = ["bass", "drums", "other", "vocals"]


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Build, np.ndarray]:
    root: Path = tmp_path_factory.mktemp("snap")
    lay = scalecat.layout(4.0, 0.16)
    pool = scalecat.write_pool(root, scalecat.real_rows(None, seconds=4.0), 4, 8, lay, "int8")
    data = clustered_vectors(400, 16, seed=1)
    scalecat.write_vectors(root / "vectors", data, INSTRUMENTS)
    folder = scalecat.write_catalogue(root, 400, "int8", pool, 16, 8, INSTRUMENTS, _features(400, 2), root / "vectors")
    return Build.load(folder), data


def test_scores_of_a_flat_index_equal_its_own_search(build: tuple[Build, np.ndarray]) -> None:
    b, data = build
    q = data[7] + 0.1
    wanted = [4, 8, 100, 396, 5]  # 5 is another instrument's: not found in bass
    got = b.scores_of(q, wanted, "bass")
    scores, ids = vectors.search(b.indexes["bass"], q[None].astype(np.float32), 4, include_ids=np.array(wanted[:4]))
    assert set(got) == {4, 8, 100, 396}
    for s, i in zip(scores[0], ids[0], strict=True):
        assert got[int(i)] == pytest.approx(float(s), abs=1e-6)
    assert b.scores_of(q, wanted, None)[5] == pytest.approx(float(data[5] @ q), abs=1e-6)


def test_musical_candidates_are_the_analysed_stems_prepared(build: tuple[Build, np.ndarray]) -> None:
    b, _ = build
    exclude = np.array([0, 4, 12, 13])
    for scope, ex in (("bass", None), ("bass", exclude), (None, exclude)):
        ids, rows = b.analysed_stems(scope, ex)
        got_ids, table = b.musical_candidates(scope, ex)
        np.testing.assert_array_equal(got_ids, ids)
        want = prepare(rows)
        for name in ("key", "chroma", "bpm", "tempogram"):
            np.testing.assert_array_equal(getattr(table, name), getattr(want, name))
    assert b.musical_candidates("bass")[1] is b.musical_candidates("bass")[1]  # prepared once
