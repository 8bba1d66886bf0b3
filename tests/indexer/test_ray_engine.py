"""`--engine ray`: the same stages on Ray Data (a local two-CPU instance) give the same index as local."""

from pathlib import Path

import numpy as np
import pytest

from indexer.build import IndexOptions, build_index
from indexer.catalog import Catalogue
from indexer.frames import frame_codec
from tests.indexer.conftest import make_settings
from tests.indexer.test_build import assert_consistent

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]')")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def test_ray_engine_indexes_like_the_local_engine(tmp_path: Path, sqlite_url: str, catalogue: Path,
                                                 tiny_checkpoint: Path, embedder, local_ray) -> None:
    (catalogue / "Broken - Song").mkdir()
    (catalogue / "Broken - Song" / "bass.wav").write_text("not audio")
    settings = make_settings(tmp_path, sqlite_url, checkpoint=tiny_checkpoint)
    report = build_index(catalogue, settings, embedder, IndexOptions(engine="ray"))
    assert (report.added, report.failed) == (12, 1)
    cat = assert_consistent(sqlite_url, settings.index_dir, 12)
    rec = cat.list_stems(instrument="bass")[0][0]
    local = embedder.embed_stem(embedder.load_audio(rec.path))
    assert cat.search(local.vector, 1, "bass")[0].stem_id == rec.id
    codec = frame_codec(local.frames.shape[1])  # stored as the local engine's frames would be (format 3)
    expected = codec.decode(*codec.encode(local.frames.astype(np.float16).astype(np.float32)))
    assert np.mean(np.sum(cat.frames(rec.id) * expected, axis=1)) > 0.98
    cat.close()
    assert build_index(catalogue, settings, embedder, IndexOptions(engine="ray")).added == 0
    assert isinstance(Catalogue.open(sqlite_url, settings.index_dir).manifest, dict)
