"""Store formats across releases: a build written in store format 2 (manifest format 1, what readers before
format 3 read) keeps serving after an upgrade; new stems go to format 3 packs beside the old ones; a rebuild
rewrites every pack in format 3."""

import shutil
from pathlib import Path

import numpy as np

from indexer.build import IndexOptions, build_index
from indexer.frames import is_coded, pack_paths
from indexer.manifest import read_manifest
from tests.indexer.conftest import make_settings
from tests.indexer.test_build import assert_consistent


def _pack_dtypes(index_dir: Path) -> dict[str, list[str]]:
    manifest = read_manifest(index_dir)
    assert manifest is not None
    packs = {"frames": manifest["frame_packs"], **manifest["analysis_packs"]}
    return {kind: [np.load(pack_paths(index_dir, n)[0], mmap_mode="r").dtype.name for n in names]
            for kind, names in packs.items() if kind != "beats"}


def test_format_2_build_then_format_3_additions_then_a_rebuild(tmp_path: Path, sqlite_url: str, catalogue: Path,
                                                               embedder) -> None:
    old = make_settings(tmp_path, sqlite_url, store_format=2)
    build_index(catalogue, old, embedder)
    manifest = read_manifest(old.index_dir)
    assert manifest is not None and manifest["format"] == 1 and manifest["frame_format"] == 2
    assert _pack_dtypes(old.index_dir) == {"frames": ["int8"], "features": ["float32"], "onsets": ["int8"],
                                           "chroma": ["int8"]}
    assert not list(old.index_dir.glob("*.params.npy"))
    cat = assert_consistent(sqlite_url, old.index_dir, 12)
    frames_before = {i: cat.frames(i) for i in range(1, 13)}
    sig_before = cat.signature(1)
    cat.close()

    shutil.copytree(catalogue / "Artist 1 - Song 1", catalogue / "Artist 9 - Song 9")
    new = make_settings(tmp_path, sqlite_url)  # this release's default: format 3
    assert (build_index(catalogue, new, embedder).added, new.store_format) == (4, 3)
    manifest = read_manifest(new.index_dir)
    assert manifest is not None and manifest["format"] == 2 and manifest["frame_format"] == 3
    assert _pack_dtypes(new.index_dir) == {"frames": ["int8", "uint8"], "features": ["float32", "float32"],
                                           "onsets": ["int8", "uint8"], "chroma": ["int8", "uint8"]}
    cat = assert_consistent(sqlite_url, new.index_dir, 16)
    for i, frames in frames_before.items():  # the format 2 packs are read as before
        np.testing.assert_array_equal(cat.frames(i), frames)
    sig = cat.signature(1)
    assert sig is not None and sig_before is not None and np.array_equal(sig.bands, sig_before.bands)
    added = max(cat.current().frame_store.ids().tolist())
    new_sig = cat.signature(added)
    assert new_sig is not None and new_sig.bands.shape[0] == 4 and len(cat.frames(added))
    cat.close()

    build_index(catalogue, new, embedder, IndexOptions(rebuild=True))
    manifest = read_manifest(new.index_dir)
    assert manifest is not None
    assert all(is_coded(new.index_dir, n) for n in [*manifest["frame_packs"], *manifest["analysis_packs"]["onsets"],
                                                    *manifest["analysis_packs"]["chroma"]])
    assert_consistent(sqlite_url, new.index_dir, 16).close()
