"""Files: durable atomic writes and content hashes, one implementation for every package that writes files.

A write goes to a unique temporary name in the target's folder (`.NAME.tmp-XXXX`), is flushed and fsynced,
renamed over the target and the folder fsynced. A reader, a concurrent writer of the same file or a restart
after kill -9 therefore sees either the old file or the complete new one, never half of one; leftovers of
an interrupted write match `remove_temporaries`. The cost of the two fsyncs is small beside what is
written (checkpoints, index chunks, decoded audio), so every writer gets the same guarantee.
"""

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

_TMP_MARK = ".tmp-"
_BLOCK = 1 << 20


def fsync_dir(folder: Path) -> None:
    """Makes a rename inside `folder` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def _temporary_beside(path: Path) -> Iterator[Path]:
    """A fresh temporary file name next to `path`, removed unless it was renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp: unique across processes and threads (two writers of one cache file never share a name)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}{_TMP_MARK}", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def _publish(tmp: Path, path: Path) -> None:
    with tmp.open("rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def atomic_write_path(path: str | Path, write: Callable[[Path], object]) -> None:
    """Calls `write(tmp)` with a temporary file name beside `path`, then makes it `path` durably (for
    writers that want a name: FAISS's write_index, torch.save, memory-mapped arrays, soundfile)."""
    path = Path(path)
    with _temporary_beside(path) as tmp:
        write(tmp)
        _publish(tmp, path)


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], object]) -> None:
    """Calls `write(f)` on a temporary binary file beside `path`, then makes it `path` durably."""

    def to_file(tmp: Path) -> None:
        with tmp.open("wb") as f:
            write(f)

    atomic_write_path(path, to_file)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path: str | Path, data: Any) -> None:
    """Indented, key-sorted JSON with a final newline."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def remove_temporaries(folder: Path) -> int:
    """Deletes leftovers of writes interrupted by a crash; returns how many."""
    n = 0
    if folder.is_dir():
        for p in folder.glob(f".*{_TMP_MARK}*"):
            p.unlink(missing_ok=True)
            n += 1
    return n


def file_hash(path: str | Path) -> "hashlib._Hash":
    """The sha256 state after the file's bytes (read in 1 MiB blocks): `.hexdigest()`, or `.copy()` to
    hash more after them."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(_BLOCK), b""):
            h.update(block)
    return h


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of the file's bytes."""
    return file_hash(path).hexdigest()
