"""Read side of the catalogue for the service: vector search, frame sequences and stem metadata.

A `Catalogue` holds one published build (manifest + per-instrument FAISS indexes + memory-mapped frame
packs) and a SQL engine; `reload()` swaps in a newer build atomically, so concurrent searches (FastAPI's
thread pool) always see one consistent snapshot, and `refresh()` does so only when another process (an index
worker, another API replica's job) has published a newer build. Safe to share between threads.

Instrument filtering is exact by construction: each instrument has its own index, so a filtered search
only ever scans that instrument's vectors (no over-fetching, and IVF lists hold nothing else to crowd out
the k results). An unfiltered search asks every instrument's index for k and merges by score.
"""

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Select, func, or_, select

from analysis.signature import Signature
from indexer import vectors
from indexer.analyses import AnalysisStore
from indexer.db import Song, Stem, StemStatus, make_engine, require_schema, session_factory
from indexer.errors import CatalogueNotFoundError, IndexMismatchError
from indexer.frames import FrameStore
from indexer.manifest import check_model, manifest_path, read_manifest, require_manifest

log = logging.getLogger(__name__)

__all__ = ["Catalogue", "CatalogueNotFoundError", "Hit", "IndexMismatchError", "SongRecord", "StemRecord"]


@dataclass(frozen=True)
class StemRecord:
    """A catalogue stem's metadata. duration_seconds in s; sample_rate in Hz (the source file's own)."""

    id: int
    song_id: int
    song_key: str
    title: str | None
    artist: str | None
    instrument: str
    name: str
    path: str
    stream: int | None
    duration_seconds: float
    sample_rate: int
    bpm: float | None = None
    key: str | None = None
    camelot: str | None = None
    key_confidence: float | None = None
    bpm_confidence: float | None = None
    beat_period: float | None = None
    beats_per_bar: int | None = None
    downbeat_seconds: float | None = None


@dataclass(frozen=True)
class SongRecord:
    id: int
    key: str
    title: str | None
    artist: str | None
    instruments: tuple[str, ...]
    stem_count: int


@dataclass(frozen=True)
class Hit:
    stem_id: int
    score: float  # inner product of unit vectors, higher is better


@dataclass(frozen=True)
class _Snapshot:
    manifest: dict[str, Any]
    indexes: dict[str, Any]  # instrument -> FAISS index
    nprobe: dict[str, int]
    frames: FrameStore
    analyses: AnalysisStore
    id_sets: dict[str, np.ndarray]  # instrument -> its searchable stem ids, ascending


def _load_snapshot(index_dir: Path, checkpoint_hash: str | None, embedding_version: str | None) -> _Snapshot:
    manifest = require_manifest(index_dir)
    check_model(manifest, checkpoint_hash, embedding_version)
    indexes, nprobe = {}, {}
    for inst, entry in manifest["instruments"].items():
        path = index_dir / entry["file"]
        if not path.is_file():
            raise CatalogueNotFoundError(f"manifest names {path}, which is missing")
        indexes[inst] = vectors.read(path)
        if entry.get("ivf"):
            nprobe[inst] = int(entry["ivf"]["nprobe"])
    live = np.concatenate([vectors.index_ids(i) for i in indexes.values()]) if indexes else np.zeros(0, np.int64)
    frames = FrameStore(index_dir, manifest["frame_packs"], int(manifest["frame_dim"]), only=live)
    analyses = AnalysisStore.open(index_dir, manifest, only=live)
    if len(analyses) < len(live):
        log.warning("build %s holds the musical analysis of %d of its %d stems; ranking uses the model alone "
                    "for the rest and their offsets are not refined: run `stemjepa index` again to analyse them",
                    manifest.get("build"), len(analyses), len(live))
    id_sets = {inst: np.sort(vectors.index_ids(idx)) for inst, idx in indexes.items()}
    return _Snapshot(manifest, indexes, nprobe, frames, analyses, id_sets)


def _manifest_stamp(index_dir: Path) -> tuple[int, int, int] | None:
    """(inode, size, mtime ns) of the published manifest, None when there is none."""
    try:
        st = manifest_path(index_dir).stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


_RECORD_COLUMNS = (Stem.id, Stem.song_id, Song.key, Song.title, Song.artist, Stem.instrument, Stem.name,
                   Stem.path, Stem.stream, Stem.duration_seconds, Stem.sample_rate, Stem.bpm, Stem.key, Stem.camelot,
                   Stem.key_confidence, Stem.bpm_confidence, Stem.beat_period, Stem.beats_per_bar,
                   Stem.downbeat_seconds)


# Orders of list_stems: stems without an analysis come last in every order but "id".
SORTS: dict[str, tuple[Any, ...]] = {
    "id": (),
    "bpm": (Stem.bpm.is_(None), Stem.bpm.asc()),
    "-bpm": (Stem.bpm.is_(None), Stem.bpm.desc()),
    "key": (Stem.camelot.is_(None), func.length(Stem.camelot), Stem.camelot),
}


def _record(row: Any) -> StemRecord:
    return StemRecord(int(row[0]), int(row[1]), row[2], row[3], row[4], row[5], row[6], row[7], row[8],
                      float(row[9] or 0.0), int(row[10] or 0), *row[11:])


class Catalogue:
    """One published index build plus the SQL metadata behind it."""

    def __init__(self, db_url: str, index_dir: Path, checkpoint_hash: str | None = None,
                 embedding_version: str | None = None) -> None:
        self.index_dir = Path(index_dir)
        self.checkpoint_hash = checkpoint_hash
        self.embedding_version = embedding_version
        self._stamp = _manifest_stamp(self.index_dir)  # taken before the load: a later publish is never missed
        self._snap = _load_snapshot(self.index_dir, checkpoint_hash, embedding_version)
        self._engine = make_engine(db_url)
        require_schema(self._engine)
        self._session = session_factory(self._engine)
        self._lock = threading.Lock()

    @classmethod
    def open(cls, db_url: str, index_dir: Path, checkpoint_hash: str | None = None,
             embedding_version: str | None = None) -> "Catalogue":
        """Opens the build published in `index_dir`.

        Raises:
            CatalogueNotFoundError: no manifest (nothing indexed yet), a missing file, or an unmigrated database.
            IndexMismatchError: the build's checkpoint hash or embedding version differs from the ones given.
        """
        return cls(db_url, index_dir, checkpoint_hash, embedding_version)

    def reload(self) -> None:
        """Picks up the latest published build (after an index job); keeps the old one if loading fails."""
        stamp = _manifest_stamp(self.index_dir)
        snap = _load_snapshot(self.index_dir, self.checkpoint_hash, self.embedding_version)
        with self._lock:
            self._snap, self._stamp = snap, stamp
        log.info("catalogue reloaded: build %s, %d stems", snap.manifest["build"], self.size())

    def refresh(self) -> bool:
        """Reloads when the published build is not the one held; True if it did. Cheap while nothing changed:
        one stat of the manifest, which every publish replaces (atomically, so with a new inode).

        Raises:
            IndexMismatchError: the new build is of another checkpoint (the old build stays).
        """
        stamp = _manifest_stamp(self.index_dir)
        if stamp is None or stamp == self._stamp:
            return False
        published = read_manifest(self.index_dir)
        if published is None or published.get("build") == self._snap.manifest.get("build"):
            self._stamp = stamp
            return False
        self.reload()
        return True

    def close(self) -> None:
        self._engine.dispose()

    @property
    def manifest(self) -> dict[str, Any]:
        return self._snap.manifest

    @property
    def dim(self) -> int:
        return int(self._snap.manifest["dim"])

    @property
    def instruments(self) -> list[str]:
        """Instruments with at least one indexed stem."""
        return sorted(i for i, idx in self._snap.indexes.items() if idx.ntotal)

    # ---- vectors --------------------------------------------------------------------------------
    def size(self, instrument: str | None = None) -> int:
        """Number of searchable stems (of `instrument`, or all)."""
        snap = self._snap
        if instrument is not None:
            idx = snap.indexes.get(instrument)
            return int(idx.ntotal) if idx is not None else 0
        return sum(int(idx.ntotal) for idx in snap.indexes.values())

    def search(self, vector: np.ndarray, k: int, instrument: str | None = None,
               exclude_song_ids: Sequence[int] = ()) -> list[Hit]:
        """The `k` stems whose vectors have the largest inner product with `vector` [dim], best first.

        `instrument` restricts the search to that instrument's stems (exactly); stems of `exclude_song_ids`
        are never returned (filtered inside FAISS, so up to k hits still come back).
        """
        query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        if query.shape[1] != self.dim:
            raise ValueError(f"query vector has {query.shape[1]} dims, the index has {self.dim}")
        if k <= 0:
            return []
        snap = self._snap
        names = [instrument] if instrument is not None else list(snap.indexes)
        exclude = self._stem_ids_of_songs(exclude_song_ids) if exclude_song_ids else None
        hits: list[Hit] = []
        for name in names:
            idx = snap.indexes.get(name)
            if idx is None or idx.ntotal == 0:
                continue
            scores, ids = vectors.search(idx, query, min(k, idx.ntotal), exclude, snap.nprobe.get(name))
            hits.extend(Hit(int(i), float(s)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0)
        hits.sort(key=lambda h: -h.score)
        return hits[:k]

    def frames(self, stem_id: int) -> np.ndarray:
        """The stem's frame sequence [T, frame_dim] float32 (unit rows, one per frame_seconds).

        Raises:
            KeyError: the build holds no frames for `stem_id`.
        """
        out = self._snap.frames.get(int(stem_id))
        if out is None:
            raise KeyError(f"no frames for stem {stem_id} in build {self._snap.manifest['build']}")
        return out

    def analysed_stems(self, instrument: str | None = None,
                       exclude_song_ids: Sequence[int] = ()) -> tuple[np.ndarray, np.ndarray]:
        """(ids [n], feature rows [n, F]) of every searchable analysed stem of `instrument` (or all), without
        the stems of `exclude_song_ids`: what a ranking by musical features alone scans (in memory)."""
        snap = self._snap
        names = [instrument] if instrument is not None else list(snap.indexes)
        ids = np.concatenate([np.zeros(0, np.int64), *(snap.id_sets[n] for n in names if n in snap.id_sets)])
        if exclude_song_ids:
            ids = ids[~np.isin(ids, self._stem_ids_of_songs(exclude_song_ids))]
        rows, found = snap.analyses.rows(ids)
        return ids[found], rows[found]

    def scores_of(self, vector: np.ndarray, stem_ids: Sequence[int], instrument: str | None = None) -> dict[int, float]:
        """The inner product of `vector` with each of `stem_ids` (of `instrument`, or any) that the index finds."""
        if not len(stem_ids):
            return {}
        snap = self._snap
        query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        wanted = np.asarray(stem_ids, dtype=np.int64)
        out: dict[int, float] = {}
        for name in [instrument] if instrument is not None else list(snap.indexes):
            idx = snap.indexes.get(name)
            mine = wanted[np.isin(wanted, snap.id_sets.get(name, np.zeros(0, np.int64)))]
            if idx is None or not len(mine):
                continue
            scores, ids = vectors.search(idx, query, len(mine), nprobe=snap.nprobe.get(name), include_ids=mine)
            out.update((int(i), float(sc)) for sc, i in zip(scores[0], ids[0], strict=True) if i >= 0)
        return out

    def analysis_rows(self, stem_ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Feature rows [n, F] (analysis.music.FEATURES) of `stem_ids` and a mask [n] of the analysed ones."""
        return self._snap.analyses.rows(stem_ids)

    def signature(self, stem_id: int) -> Signature | None:
        """The stem's alignment signature from the analysis packs (no audio is decoded); None if unanalysed."""
        return self._snap.analyses.signature(int(stem_id))

    def beats(self, stem_id: int) -> np.ndarray | None:
        """The stem's beat times [B] (s), or None if unanalysed."""
        return self._snap.analyses.beats(int(stem_id))

    def analysed(self) -> int:
        """Number of searchable stems whose analysis the build holds."""
        return len(self._snap.analyses)

    # ---- metadata -------------------------------------------------------------------------------
    def _stem_ids_of_songs(self, song_ids: Sequence[int]) -> np.ndarray:
        with self._session() as s:
            rows = s.execute(select(Stem.id).where(Stem.song_id.in_([int(i) for i in song_ids]))).scalars().all()
        return np.asarray(rows, dtype=np.int64)

    def _records(self) -> Select:  # type: ignore[type-arg]
        return select(*_RECORD_COLUMNS).join(Song, Song.id == Stem.song_id).where(Stem.status == StemStatus.INDEXED)

    def stem(self, stem_id: int) -> StemRecord | None:
        found = self.stems([stem_id])
        return found[0] if found else None

    def stems(self, stem_ids: Sequence[int]) -> list[StemRecord]:
        """Records of the indexed stems among `stem_ids`, in the order asked (unknown ids are left out)."""
        if not stem_ids:
            return []
        with self._session() as s:
            rows = s.execute(self._records().where(Stem.id.in_([int(i) for i in stem_ids]))).all()
        by_id = {int(r[0]): _record(r) for r in rows}
        return [by_id[int(i)] for i in stem_ids if int(i) in by_id]

    def list_stems(self, instrument: str | None = None, song_id: int | None = None, q: str | None = None,
                   offset: int = 0, limit: int = 50, bpm_min: float | None = None, bpm_max: float | None = None,
                   keys: Sequence[str] | None = None, sort: str = "id") -> tuple[list[StemRecord], int]:
        """A page of indexed stems and the total matching; `q` matches title, artist, name, path; `keys` are
        key names ('A minor') a stem must be in; `sort` is one of SORTS (ties by id)."""
        query = self._records()
        if instrument is not None:
            query = query.where(Stem.instrument == instrument)
        if song_id is not None:
            query = query.where(Stem.song_id == song_id)
        if q:
            pattern = f"%{q.lower()}%"
            columns = (Song.title, Song.artist, Stem.name, Stem.path)
            query = query.where(or_(*(func.lower(c).like(pattern) for c in columns)))
        if bpm_min is not None:
            query = query.where(Stem.bpm >= bpm_min)
        if bpm_max is not None:
            query = query.where(Stem.bpm <= bpm_max)
        if keys is not None:
            query = query.where(Stem.key.in_(list(keys)))
        if sort not in SORTS:
            raise ValueError(f"sort must be one of {sorted(SORTS)}, got {sort!r}")
        with self._session() as s:
            total = int(s.execute(select(func.count()).select_from(query.subquery())).scalar_one())
            rows = s.execute(query.order_by(*SORTS[sort], Stem.id).offset(max(0, offset)).limit(max(0, limit))).all()
        return [_record(r) for r in rows], total

    def songs(self, q: str | None = None, offset: int = 0, limit: int = 50) -> tuple[list[SongRecord], int]:
        """A page of songs with indexed stems ordered by id, and the total matching; `q` matches title, artist, key."""
        base = (select(Song.id, Song.key, Song.title, Song.artist).join(Stem, Stem.song_id == Song.id)
                .where(Stem.status == StemStatus.INDEXED).group_by(Song.id, Song.key, Song.title, Song.artist))
        if q:
            pattern = f"%{q.lower()}%"
            base = base.where(or_(*(func.lower(c).like(pattern) for c in (Song.title, Song.artist, Song.key))))
        with self._session() as s:
            total = int(s.execute(select(func.count()).select_from(base.subquery())).scalar_one())
            page = s.execute(base.order_by(Song.id).offset(max(0, offset)).limit(max(0, limit))).all()
            ids = [int(r[0]) for r in page]
            inst_rows = s.execute(select(Stem.song_id, Stem.instrument).where(
                Stem.song_id.in_(ids), Stem.status == StemStatus.INDEXED)).all()
        by_song: dict[int, list[str]] = {}
        for sid, inst in inst_rows:
            by_song.setdefault(int(sid), []).append(inst)
        return [SongRecord(int(r[0]), r[1], r[2], r[3], tuple(sorted(set(by_song.get(int(r[0]), [])))),
                           len(by_song.get(int(r[0]), []))) for r in page], total
