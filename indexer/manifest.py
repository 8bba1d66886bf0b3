"""The manifest: one JSON file that ties the FAISS indexes, the frame packs and the database to one checkpoint.

It is written last (atomically) by each publish, so it always names a complete, consistent set of files:
{format, build, created_at, checkpoint_hash, embedding_version, model, dim, frame_dim, frame_seconds,
 frame_dtype, frame_format, vocabulary, database, instruments: {name: {file, type, count, ivf?}},
 frame_packs: [name], analysis_packs: {kind: [name]}, analysis_version, analysis_format,
 counts: {stems, frames, songs, analysed}}.

Format 2 manifests may name packs of store format 3 (codes and per-stem parameters, indexer.codecs), which
readers before it cannot decode: they refuse the manifest instead. Format 1 manifests (packs of store
formats 1 and 2 only) are still read.
"""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from indexer.errors import CatalogueNotFoundError, IndexMismatchError
from model.files import atomic_write_json

MANIFEST_NAME = "manifest.json"
FORMAT = 2
READABLE_FORMATS = (1, 2)


def manifest_path(index_dir: Path) -> Path:
    return Path(index_dir) / MANIFEST_NAME


def read_manifest(index_dir: Path) -> dict[str, Any] | None:
    """The published manifest, or None when `index_dir` holds none."""
    path = manifest_path(index_dir)
    if not path.is_file():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    if data.get("format") not in READABLE_FORMATS:
        raise CatalogueNotFoundError(f"{path}: manifest format {data.get('format')!r}, expected one of "
                                     f"{READABLE_FORMATS}")
    return data


def require_manifest(index_dir: Path) -> dict[str, Any]:
    data = read_manifest(index_dir)
    if data is None:
        raise CatalogueNotFoundError(f"no index in {index_dir} ({MANIFEST_NAME} missing); run `stemjepa index`")
    return data


def check_model(manifest: dict[str, Any], checkpoint_hash: str | None, embedding_version: str | None) -> None:
    """Raises IndexMismatchError when the index was built by another checkpoint or embedding version."""
    if checkpoint_hash is not None and manifest["checkpoint_hash"] != checkpoint_hash:
        raise IndexMismatchError("checkpoint hash", manifest["checkpoint_hash"], checkpoint_hash)
    if embedding_version is not None and manifest["embedding_version"] != embedding_version:
        raise IndexMismatchError("embedding version", manifest["embedding_version"], embedding_version)


def write_manifest(index_dir: Path, data: dict[str, Any], fmt: int = FORMAT) -> None:
    """Writes the manifest; `fmt` 1 for a build whose packs readers of format 1 can read (store format 2)."""
    if fmt not in READABLE_FORMATS:
        raise ValueError(f"manifest format {fmt} is not one of {READABLE_FORMATS}")
    data = {**data, "format": fmt, "created_at": datetime.now(UTC).isoformat()}
    atomic_write_json(manifest_path(index_dir), data)
