"""One writer per index directory: an OS file lock (`flock`), released by the kernel when its holder dies,
`kill -9` included, so it never goes stale.

Re-entrant within one thread: the job runner holds the lock while it claims a job and `build_index`, called
by the runner in the same thread, takes it again without blocking itself. Another thread or process finds
the directory busy.
"""

import fcntl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from indexer.errors import IndexerError

LOCK_NAME = ".lock"

_held = threading.local()  # .paths: index dirs (resolved) whose lock this thread holds, with depths


class IndexBusyError(IndexerError):
    """Another index job (thread or process) holds the index directory."""


@contextmanager
def index_lock(index_dir: Path) -> Iterator[None]:
    """Holds the lock of `index_dir` (made if missing) for the block.

    Raises:
        IndexBusyError: another thread or process holds it.
    """
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    key = str(index_dir.resolve())
    depths: dict[str, int] = getattr(_held, "paths", None) or {}
    _held.paths = depths
    if depths.get(key):
        depths[key] += 1
        try:
            yield
        finally:
            depths[key] -= 1
        return
    with (index_dir / LOCK_NAME).open("w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IndexBusyError("another index job is working on the index directory") from exc
        depths[key] = 1
        try:
            yield
        finally:
            depths[key] = 0
