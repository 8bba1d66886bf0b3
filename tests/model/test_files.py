"""Durable writes leave the old file or the whole new one, never a temporary; hashes match hashlib's."""

import hashlib
import json
from pathlib import Path

import pytest

from model.files import (
    atomic_write,
    atomic_write_json,
    atomic_write_path,
    file_hash,
    file_sha256,
    remove_temporaries,
)


def test_a_write_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "data.json"
    atomic_write_json(target, {"b": 1, "a": [1, 2]})
    atomic_write_json(target, {"b": 2})
    assert json.loads(target.read_text()) == {"b": 2} and target.read_text().endswith("\n")
    assert [p.name for p in target.parent.iterdir()] == ["data.json"]


def test_a_failing_writer_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "data.bin"
    target.write_bytes(b"old")

    def broken(f) -> None:
        f.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, broken)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["data.bin"]


def test_path_writers_get_a_fresh_name_beside_the_target(tmp_path: Path) -> None:
    seen: list[Path] = []

    def write(tmp: Path) -> None:
        seen.append(tmp)
        tmp.write_text("x")

    atomic_write_path(tmp_path / "index.faiss", write)
    atomic_write_path(tmp_path / "index.faiss", write)
    assert seen[0] != seen[1] and all(p.parent == tmp_path and p.name.startswith(".index.faiss.tmp-") for p in seen)
    assert (tmp_path / "index.faiss").read_text() == "x"


def test_leftovers_of_interrupted_writes_are_removed(tmp_path: Path) -> None:
    (tmp_path / ".chunk.npz.tmp-abc").write_bytes(b"partial")
    (tmp_path / "chunk.npz").write_bytes(b"whole")
    assert remove_temporaries(tmp_path) == 1 and [p.name for p in tmp_path.iterdir()] == ["chunk.npz"]
    assert remove_temporaries(tmp_path / "missing") == 0


def test_file_hash_is_sha256_of_the_bytes_and_can_be_continued(tmp_path: Path) -> None:
    path = tmp_path / "song.wav"
    data = bytes(range(256)) * 9000  # more than one 1 MiB block
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
    more = file_hash(path).copy()
    more.update(b"#2")
    assert more.hexdigest() == hashlib.sha256(data + b"#2").hexdigest()
