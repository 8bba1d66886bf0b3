"""Rebuild generations: the marker that says a rebuild is under way in an index directory.

A rebuild is blue/green. The published build (blue) keeps being served, untouched, while the rebuild (green)
re-embeds every stem into chunks tagged with its generation; its publish builds fresh FAISS indexes, frame
packs and analysis packs from those chunks alone and switches by writing the manifest (the one atomic step);
only then does the marker go. In order, a rebuild job (indexer.build):

1. writes `rebuild.json` {generation, checkpoint_hash, since_build} atomically, before anything else;
2. reconciles against its own chunks only: chunks of any other generation are dropped, and every stem whose
   vector is in no chunk of this generation is (again) pending. SQL `status` is the write side's bookkeeping;
   the service reads the stems of its build through `published_build`/`retired_build` (indexer.db), which
   only a publish changes, so the rows' status going back to pending hides nothing;
3. embeds and analyses the pending stems, committing chunks of this generation;
4. publishes build since_build + 1 from scratch (indexer.publish with fresh=True), then removes the marker.

A failure or a `kill -9` anywhere before the manifest leaves the previous build published and served; the
next job of any kind finds the marker and resumes the rebuild (with its own checkpoint: a different one starts
a new generation), re-embedding only what no chunk of the generation holds. A marker whose rebuild was
published already (a kill between the manifest and the marker's removal) is recognised by the manifest's
build number and removed.
"""

import json
import logging
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from model.files import atomic_write_json

log = logging.getLogger(__name__)

MARKER_NAME = "rebuild.json"


@dataclass(frozen=True)
class Generation:
    """A rebuild under way: its id (tags its chunks), the checkpoint it embeds with, and the build that was
    published when it started (None: none was)."""

    generation: str
    checkpoint_hash: str
    since_build: int | None


def marker_path(index_dir: Path) -> Path:
    return Path(index_dir) / MARKER_NAME


def read(index_dir: Path) -> Generation | None:
    """The rebuild under way in `index_dir`, or None."""
    path = marker_path(index_dir)
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    since = data.get("since_build")
    return Generation(str(data["generation"]), str(data["checkpoint_hash"]), None if since is None else int(since))


def start(index_dir: Path, checkpoint_hash: str, published: dict[str, Any] | None) -> Generation:
    """Records a new rebuild generation over the `published` manifest (None: nothing published)."""
    gen = Generation(uuid.uuid4().hex, checkpoint_hash, None if published is None else int(published["build"]))
    Path(index_dir).mkdir(parents=True, exist_ok=True)
    atomic_write_json(marker_path(index_dir), asdict(gen))
    log.info("rebuild %s started over build %s", gen.generation[:8], gen.since_build)
    return gen


def published(gen: Generation, manifest: dict[str, Any] | None) -> bool:
    """Whether `manifest` is the build the rebuild `gen` published (every later build would be)."""
    if manifest is None:
        return False
    return gen.since_build is None or int(manifest["build"]) > gen.since_build


def finish(index_dir: Path) -> None:
    """The rebuild is published: the marker goes (the last step of a rebuild)."""
    marker_path(index_dir).unlink(missing_ok=True)


def resume(index_dir: Path, manifest: dict[str, Any] | None, checkpoint_hash: str,
           requested: bool) -> Generation | None:
    """The rebuild a job runs: the one under way (finishing a marker whose build is published already), a new
    generation when one is `requested` or the one under way embeds with another checkpoint, else None."""
    gen = read(index_dir)
    if gen is not None and published(gen, manifest):
        finish(index_dir)
        gen = None
    if gen is not None and gen.checkpoint_hash != checkpoint_hash:
        log.info("rebuild %s embedded with another checkpoint; starting over with this one", gen.generation[:8])
        return start(index_dir, checkpoint_hash, manifest)
    if gen is not None:
        log.info("resuming rebuild %s over build %s", gen.generation[:8], gen.since_build)
        return gen
    return start(index_dir, checkpoint_hash, manifest) if requested else None
