"""The process engine: decoding, analysis and embedding in each worker give the local engine's index."""

import os
from pathlib import Path

import numpy as np
import pytest

from indexer.build import IndexOptions, build_index
from indexer.catalog import Catalogue
from indexer.db import upgrade
from tests.indexer.conftest import make_settings


def _index(tmp_path: Path, name: str, catalogue: Path, embedder, engine: str, workers: int) -> Catalogue:
    url = f"sqlite:///{tmp_path / f'{name}.sqlite'}"
    upgrade(url)
    settings = make_settings(tmp_path / name, url, workers=workers)
    report = build_index(catalogue, settings, embedder, IndexOptions(engine=engine))  # type: ignore[arg-type]
    assert report.added == 12 and report.failed == 0
    return Catalogue.open(url, settings.index_dir)


@pytest.mark.parametrize("workers", [0, 2])
def test_the_process_engine_gives_the_local_engines_vectors_frames_and_analyses(
        tmp_path: Path, catalogue: Path, embedder, workers: int) -> None:
    if workers > (os.cpu_count() or 1):
        pytest.skip("needs two CPUs")
    local = _index(tmp_path, "local", catalogue, embedder, "local", 0)
    procs = _index(tmp_path, "procs", catalogue, embedder, "procs", workers)
    try:
        by_key = {(r.title, r.name): r.id for r in local.list_stems(limit=100)[0]}
        assert len(by_key) == 12
        for r in procs.list_stems(limit=100)[0]:
            other = by_key[(r.title, r.name)]
            np.testing.assert_allclose(procs.frames(r.id), local.frames(other), atol=1e-5)
            assert procs.signature(r.id) is not None
            np.testing.assert_allclose(procs.signature(r.id).envelope, local.signature(other).envelope, atol=1e-5)
            vec = procs.scores_of(np.ones(procs.dim, np.float32), [r.id])
            assert vec[r.id] == pytest.approx(local.scores_of(np.ones(local.dim, np.float32), [other])[other], abs=1e-4)
    finally:
        local.close()
        procs.close()
