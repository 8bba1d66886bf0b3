"""Read side: exact instrument filtering (flat and IVF), song exclusion, metadata pages, mismatch and reload."""

from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from indexer.build import build_index
from indexer.catalog import Catalogue, CatalogueNotFoundError, IndexMismatchError
from tests.indexer.conftest import make_settings


@pytest.fixture
def built(tmp_path: Path, sqlite_url: str, catalogue: Path, embedder) -> tuple[str, Path]:
    build_index(catalogue, make_settings(tmp_path, sqlite_url), embedder)
    return sqlite_url, tmp_path / "index"


def test_open_refuses_a_missing_index_and_a_different_model(tmp_path: Path, sqlite_url: str, built, embedder) -> None:
    with pytest.raises(CatalogueNotFoundError):
        Catalogue.open(sqlite_url, tmp_path / "nowhere")
    with pytest.raises(IndexMismatchError):
        Catalogue.open(sqlite_url, built[1], checkpoint_hash="0" * 64)
    with pytest.raises(IndexMismatchError):
        Catalogue.open(sqlite_url, built[1], embedding_version="v0-context")
    cat = Catalogue.open(*built, checkpoint_hash=embedder.checkpoint_hash, embedding_version=embedder.embedding_version)
    assert cat.manifest["dim"] == embedder.dim and cat.size() == 12
    cat.close()


def test_search_filters_by_instrument_exactly_and_excludes_songs(built) -> None:
    cat = Catalogue.open(*built)
    q = np.random.default_rng(0).standard_normal(cat.dim).astype(np.float32)
    for inst in ("bass", "drums", "other", "vocals"):
        hits = cat.search(q, 10, inst)
        assert len(hits) == 3 == cat.size(inst)
        assert {r.instrument for r in cat.stems([h.stem_id for h in hits])} == {inst}
    everything = cat.search(q, 20)
    assert len(everything) == 12 and all(a.score >= b.score for a, b in pairwise(everything))
    song = cat.stem(everything[0].stem_id)
    assert song is not None
    kept = cat.search(q, 20, exclude_song_ids=[song.song_id])
    assert len(kept) == 8 and song.song_id not in {r.song_id for r in cat.stems([h.stem_id for h in kept])}
    with pytest.raises(ValueError):
        cat.search(q[:-1], 5)
    cat.close()


def test_metadata_pages_and_frames(built, embedder) -> None:
    cat = Catalogue.open(*built)
    page, total = cat.list_stems(instrument="vocals", offset=1, limit=1)
    assert total == 3 and len(page) == 1
    rows, total = cat.list_stems(q="artist 1")
    assert total == 4 and {r.artist for r in rows} == {"Artist 1"}
    songs, n = cat.songs()
    assert n == 3 and songs[0].instruments == ("bass", "drums", "other", "vocals") and songs[0].stem_count == 4
    frames = cat.frames(rows[0].id)
    assert frames.dtype == np.float32 and frames.shape == (13, embedder.frame_dim)  # 2 s / 0.16 s, rounded up
    with pytest.raises(KeyError):
        cat.frames(10_000)
    assert cat.stem(10_000) is None and cat.stems([10_000, rows[0].id]) == [rows[0]]
    cat.close()


def test_reload_picks_up_a_new_build(tmp_path: Path, built, catalogue: Path, embedder) -> None:
    import shutil

    cat = Catalogue.open(*built)
    shutil.copytree(catalogue / "Artist 0 - Song 0", catalogue / "Artist 5 - Song 5")
    build_index(catalogue, make_settings(tmp_path, built[0]), embedder)
    assert cat.size() == 12
    cat.reload()
    assert cat.size() == 16 and cat.manifest["build"] == 2
    cat.close()


def test_refresh_loads_a_build_published_by_another_process_only_once(tmp_path: Path, built, catalogue: Path,
                                                                       embedder) -> None:
    import shutil

    cat = Catalogue.open(*built)
    assert not cat.refresh()  # nothing new: one stat, no reload
    shutil.copytree(catalogue / "Artist 0 - Song 0", catalogue / "Artist 5 - Song 5")
    build_index(catalogue, make_settings(tmp_path, built[0]), embedder)
    assert cat.refresh() and cat.size() == 16 and cat.manifest["build"] == 2
    assert not cat.refresh()
    cat.close()


def test_a_replica_lists_exactly_the_stems_of_the_build_it_serves(tmp_path: Path, built, catalogue: Path,
                                                                   embedder, monkeypatch) -> None:
    import shutil

    from indexer import build as build_module

    settings = make_settings(tmp_path, built[0])
    cat = Catalogue.open(*built)
    shutil.copytree(catalogue / "Artist 0 - Song 0", catalogue / "Artist 5 - Song 5")

    def killed(*_a: object, **_k: object) -> None:
        raise RuntimeError("killed before publishing")

    monkeypatch.setattr(build_module, "publish", killed)
    with pytest.raises(RuntimeError):
        build_index(catalogue, settings, embedder)  # the new song's stems are committed, 'indexed', unpublished
    monkeypatch.undo()
    assert cat.list_stems(limit=100)[1] == 12 and cat.songs()[1] == 3
    new = cat.list_stems(q="song 5")[0]
    assert new == [] and cat.stem(13) is None

    shutil.rmtree(catalogue / "Artist 2 - Song 2")
    from indexer.build import IndexOptions

    build_index(catalogue, settings, embedder, IndexOptions(prune=True))  # build 2: +4 of song 5, -4 of song 2
    assert cat.list_stems(limit=100)[1] == 8  # still build 1, less song 2's deleted rows; song 5 not yet shown
    assert {r.title for r in cat.list_stems(limit=100)[0]} == {"Song 0", "Song 1"}
    assert cat.refresh() and cat.manifest["build"] == 2
    page, total = cat.list_stems(limit=100)
    assert total == 12 and {r.title for r in page} == {"Song 0", "Song 1", "Song 5"}
    assert sorted(r.id for r in page) == sorted(cat.current().ids().tolist())
    cat.close()
