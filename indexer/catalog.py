"""Read side of the catalogue for the service: vector search, frame sequences and stem metadata.

A `Catalogue` holds one published build (indexer.snapshot.Build: manifest + per-instrument FAISS indexes +
memory-mapped frame and analysis packs) and a SQL engine; `reload()` swaps in a newer build atomically and
`refresh()` does so only when another process (an index worker, another API replica's job) has published a
newer build. A request takes `current()` once and reads vectors, frames and analyses of that one build from
start to end. Safe to share between threads.

What the service serves is what the published manifest says, never a job's half-state: the searchable stems
are the build's FAISS ids; the listed stems are the rows that build holds (`indexer.db.shown_in`, the build
span each publish records before its manifest), whatever status a running index job (a rebuild above all)
has given them since; hits are resolved to their rows by id alone. A hit whose row is gone (an index job
deleted it after the build was published) is left out by `stems`, and the caller says so.
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
from indexer.db import Song, Stem, make_engine, require_schema, session_factory, shown_in
from indexer.errors import CatalogueNotFoundError, IndexMismatchError
from indexer.manifest import manifest_path, read_manifest
from indexer.snapshot import Build, Hit

log = logging.getLogger(__name__)

__all__ = ["Build", "Catalogue", "CatalogueNotFoundError", "Hit", "IndexMismatchError", "SongRecord",
           "StemRecord"]


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
    source: str | None = None  # the catalogue root (or manifest) its song was indexed from


@dataclass(frozen=True)
class SongRecord:
    id: int
    key: str
    title: str | None
    artist: str | None
    instruments: tuple[str, ...]
    stem_count: int


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
                   Stem.downbeat_seconds, Song.source)


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
        self._build = Build.load(self.index_dir, checkpoint_hash, embedding_version)
        self._engine = make_engine(db_url)
        try:
            require_schema(self._engine)
        except Exception:
            self._engine.dispose()
            raise
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

    def current(self) -> Build:
        """The build served now: hold it for a whole request, so every read comes from the same build."""
        return self._build

    def reload(self) -> None:
        """Picks up the latest published build (after an index job); keeps the old one if loading fails."""
        stamp = _manifest_stamp(self.index_dir)
        build = Build.load(self.index_dir, self.checkpoint_hash, self.embedding_version)
        with self._lock:
            self._build, self._stamp = build, stamp
        log.info("catalogue reloaded: build %s, %d stems", build.number, build.size())

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
        if published is None or published.get("build") == self._build.manifest.get("build"):
            self._stamp = stamp
            return False
        self.reload()
        return True

    def close(self) -> None:
        self._engine.dispose()

    # ---- the build served now (each call reads the current one; a request holds `current()` instead) --------
    @property
    def manifest(self) -> dict[str, Any]:
        return self._build.manifest

    @property
    def dim(self) -> int:
        return self._build.dim

    @property
    def instruments(self) -> list[str]:
        """Instruments with at least one indexed stem."""
        return self._build.instruments

    def size(self, instrument: str | None = None) -> int:
        """Number of searchable stems (of `instrument`, or all)."""
        return self._build.size(instrument)

    def search(self, vector: np.ndarray, k: int, instrument: str | None = None,
               exclude_song_ids: Sequence[int] = ()) -> list[Hit]:
        """Build.search, leaving out the stems of `exclude_song_ids`."""
        exclude = self.stem_ids_of_songs(exclude_song_ids) if exclude_song_ids else None
        return self._build.search(vector, k, instrument, exclude)

    def frames(self, stem_id: int) -> np.ndarray:
        """Build.frames of the current build. Raises KeyError when it holds none for `stem_id`."""
        return self._build.frames(stem_id)

    def analysed_stems(self, instrument: str | None = None,
                       exclude_song_ids: Sequence[int] = ()) -> tuple[np.ndarray, np.ndarray]:
        exclude = self.stem_ids_of_songs(exclude_song_ids) if exclude_song_ids else None
        return self._build.analysed_stems(instrument, exclude)

    def scores_of(self, vector: np.ndarray, stem_ids: Sequence[int], instrument: str | None = None) -> dict[int, float]:
        return self._build.scores_of(vector, stem_ids, instrument)

    def analysis_rows(self, stem_ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        return self._build.analysis_rows(stem_ids)

    def signature(self, stem_id: int, stretch: float = 1.0) -> Signature | None:
        return self._build.signature(stem_id, stretch)

    def beats(self, stem_id: int) -> np.ndarray | None:
        return self._build.beats(stem_id)

    def analysed(self) -> int:
        return self._build.analysed()

    # ---- metadata -------------------------------------------------------------------------------
    def stem_ids_of_songs(self, song_ids: Sequence[int]) -> np.ndarray:
        """Ids [n] of every stem of `song_ids` (to exclude from a search)."""
        if not song_ids:
            return np.zeros(0, np.int64)
        with self._session() as s:
            rows = s.execute(select(Stem.id).where(Stem.song_id.in_([int(i) for i in song_ids]))).scalars().all()
        return np.asarray(rows, dtype=np.int64)

    def _records(self, build: int) -> Select:  # type: ignore[type-arg]
        return select(*_RECORD_COLUMNS).join(Song, Song.id == Stem.song_id).where(shown_in(build))

    def stem(self, stem_id: int) -> StemRecord | None:
        """The record of `stem_id` if the build served now holds it."""
        with self._session() as s:
            row = s.execute(self._records(self._build.number).where(Stem.id == int(stem_id))).first()
        return _record(row) if row is not None else None

    def stems(self, stem_ids: Sequence[int]) -> list[StemRecord]:
        """Records of `stem_ids` (hits of a build: looked up by id alone, whatever their rows' status), in the
        order asked; ids without a row (deleted since their build was published) are left out."""
        if not stem_ids:
            return []
        query = select(*_RECORD_COLUMNS).join(Song, Song.id == Stem.song_id)
        with self._session() as s:
            rows = s.execute(query.where(Stem.id.in_([int(i) for i in stem_ids]))).all()
        by_id = {int(r[0]): _record(r) for r in rows}
        return [by_id[int(i)] for i in stem_ids if int(i) in by_id]

    def list_stems(self, instrument: str | None = None, song_id: int | None = None, q: str | None = None,
                   offset: int = 0, limit: int = 50, bpm_min: float | None = None, bpm_max: float | None = None,
                   keys: Sequence[str] | None = None, sort: str = "id") -> tuple[list[StemRecord], int]:
        """A page of the served build's stems and the total matching; `q` matches title, artist and the stem's
        name (never a server path); `keys` are key names ('A minor') a stem must be in; `sort` is one of SORTS
        (ties by id)."""
        query = self._records(self._build.number)
        if instrument is not None:
            query = query.where(Stem.instrument == instrument)
        if song_id is not None:
            query = query.where(Stem.song_id == song_id)
        if q:
            pattern = f"%{q.lower()}%"
            columns = (Song.title, Song.artist, Stem.name)
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
        """A page of songs with stems in the served build, ordered by id, and the total matching; `q` matches
        title, artist, key."""
        held = shown_in(self._build.number)
        base = (select(Song.id, Song.key, Song.title, Song.artist).join(Stem, Stem.song_id == Song.id)
                .where(held).group_by(Song.id, Song.key, Song.title, Song.artist))
        if q:
            pattern = f"%{q.lower()}%"
            base = base.where(or_(*(func.lower(c).like(pattern) for c in (Song.title, Song.artist, Song.key))))
        with self._session() as s:
            total = int(s.execute(select(func.count()).select_from(base.subquery())).scalar_one())
            page = s.execute(base.order_by(Song.id).offset(max(0, offset)).limit(max(0, limit))).all()
            ids = [int(r[0]) for r in page]
            inst_rows = s.execute(select(Stem.song_id, Stem.instrument).where(Stem.song_id.in_(ids), held)).all()
        by_song: dict[int, list[str]] = {}
        for sid, inst in inst_rows:
            by_song.setdefault(int(sid), []).append(inst)
        return [SongRecord(int(r[0]), r[1], r[2], r[3], tuple(sorted(set(by_song.get(int(r[0]), [])))),
                           len(by_song.get(int(r[0]), []))) for r in page], total
