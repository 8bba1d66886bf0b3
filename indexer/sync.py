"""Sync stage: a discovered catalogue -> SQL song and stem rows, deciding what needs embedding.

A stem is known by its source key (path, or path#stream), unique across every source: a folder indexed
after an indexed folder inside it (or before, or overlapping it through a manifest) finds the rows it shares
with them and adds only what is new; a new stem of a song another source holds joins that song. Unchanged
size and mtime mean unchanged content; otherwise the content hash decides: same hash -> only the file facts
are updated; new hash -> the old row (and so its vector, at the next publish) is dropped and a new pending
row takes its place.

Containment: every stem file must resolve (symlinks followed) inside the catalogue root, the folder indexed
(a manifest's or a .stem.mp4's own folder). A symlink that leads out, or a manifest row whose path is
absolute elsewhere or climbs out with `../`, is reported as unresolved and never indexed, so nothing outside
the root can be served.
"""

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from indexer.db import Song, Stem, StemStatus
from indexer.decode import content_sha256
from model.instruments import InstrumentVocabulary
from model.multitrack import Discovery, SongRef, StemRef, discover

OUTSIDE = "outside the catalogue root (a symlink or manifest path leading out of it): not indexed"

log = logging.getLogger(__name__)


@dataclass
class SyncReport:
    source: str
    songs: int = 0
    stems: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    pruned: int = 0
    unresolved: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)


def containment_root(source: Path) -> Path:
    """The folder a source's files must resolve inside: the folder itself, or a manifest's (or .stem.mp4's)."""
    source = source.resolve()
    return source if source.is_dir() else source.parent


def _inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root)
    except (OSError, RuntimeError):  # unreadable, or a symlink loop
        return False


def confine(found: Discovery, root: Path) -> Discovery:
    """`found` without the stems whose files resolve outside `root` (reported as unresolved, by the path
    discovery gave them, shown relative to the root where it can be)."""
    out = Discovery(unresolved=list(found.unresolved))
    for song in found.songs:
        inside = tuple(st for st in song.stems if _inside(st.path, root))
        for st in song.stems:
            if st not in inside:
                shown = st.path.relative_to(root) if st.path.is_relative_to(root) else Path(st.path.name)
                out.unresolved.append((str(shown), OUTSIDE))
                log.warning("not indexed, outside the catalogue root %s: %s", root, st.path)
        if inside:
            out.songs.append(replace(song, stems=inside))
    return out


def _batches(items: list[str], size: int = 500) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _rows(s: Session, source: str, root: Path, keys: list[str], prune: bool) -> dict[str, Stem]:
    """Rows by source key: those of the discovered `keys` (of any source), and with `prune` every row of
    this source or under its folder (the candidates for removal)."""
    rows = {}
    for batch in _batches(keys):
        rows.update({st.source_key: st for st in s.scalars(select(Stem).where(Stem.source_key.in_(batch)))})
    if prune:
        mine = Song.source == source
        if Path(source).is_dir():
            mine = or_(mine, Stem.path.startswith(f"{root}/", autoescape=True))
        rows.update({st.source_key: st for st in s.scalars(select(Stem).join(Song).where(mine))})
    return rows


def _joinable(song: Song, ref: SongRef) -> bool:
    """Whether `ref`'s stems may join `song` of another source: only if they lie inside that source's root,
    the root the service checks before serving a stem's audio."""
    root = containment_root(Path(song.source))
    return all(_inside(stem.path, root) for stem in ref.stems)


def _upsert_song(s: Session, source: str, ref: SongRef, songs: dict[str, Song], shared: Song | None) -> Song:
    """The song's row: this source's, else the song of a stem another source indexed (`shared`), else new."""
    song = songs.get(ref.song_id) or shared
    if song is None:
        song = Song(source=source, key=ref.song_id)
        s.add(song)
        songs[ref.song_id] = song
    song.title, song.artist = ref.title, ref.artist
    song.tags = ",".join(ref.tags) or None
    song.licence = ref.licence
    return song


def _new_stem(song: Song, ref: StemRef, size: int, mtime_ns: int) -> Stem:
    return Stem(song=song, instrument=ref.instrument, name=ref.name, path=str(ref.path), stream=ref.stream,
                source_key=ref.key, file_size=size, file_mtime_ns=mtime_ns, status=StemStatus.PENDING)


def sync_catalogue(sessions: sessionmaker, catalogue: str | Path, vocab: InstrumentVocabulary,
                   prune: bool = False, retry_failed: bool = False) -> SyncReport:
    """Discovers `catalogue` (folder, manifest or .stem.mp4) and brings its SQL rows up to date; files that
    resolve outside its root are reported and skipped.

    `prune` also drops the rows of this source (or under its folder) whose files were not discovered;
    `retry_failed` re-queues stems that failed to decode before even when their file is unchanged.
    """
    source = Path(catalogue).resolve()
    root = containment_root(source)
    found = confine(discover(source, vocab), root)
    report = SyncReport(str(source), unresolved=list(found.unresolved))
    keys = [stem.key for ref in found.songs for stem in ref.stems]
    with sessions() as s, s.begin():
        songs = {song.key: song for song in s.scalars(select(Song).where(Song.source == report.source))}
        rows = _rows(s, report.source, root, keys, prune)
        seen: set[str] = set()
        for ref in found.songs:
            held = (rows[st.key].song for st in ref.stems if st.key in rows)
            shared = next((song for song in held if _joinable(song, ref)), None)
            song = _upsert_song(s, report.source, ref, songs, shared)
            report.songs += 1
            for stem in ref.stems:
                if stem.key in seen:  # a manifest naming one file twice
                    report.unresolved.append((stem.path.name, "listed twice in the catalogue: indexed once"))
                    continue
                report.stems += 1
                seen.add(stem.key)
                st = stem.path.stat()
                row = rows.get(stem.key)
                if row is None:
                    s.add(_new_stem(song, stem, st.st_size, st.st_mtime_ns))
                    report.new += 1
                elif (row.file_size, row.file_mtime_ns) == (st.st_size, st.st_mtime_ns):
                    report.unchanged += 1
                    if retry_failed and row.status == StemStatus.FAILED:
                        row.status, row.error = StemStatus.PENDING, None
                elif row.content_sha256 is not None and row.content_sha256 == content_sha256(stem.path, stem.stream):
                    row.file_size, row.file_mtime_ns = st.st_size, st.st_mtime_ns
                    report.unchanged += 1
                else:
                    s.delete(row)
                    s.flush()  # frees the source key before the new row takes it
                    s.add(_new_stem(song, stem, st.st_size, st.st_mtime_ns))
                    report.changed += 1
        if prune:
            for key, row in rows.items():
                if key not in seen:
                    s.delete(row)
                    report.pruned += 1
    log.info("sync %s: %d songs, %d stems (%d new, %d changed, %d unchanged, %d pruned), %d unresolved",
             source, report.songs, report.stems, report.new, report.changed, report.unchanged, report.pruned,
             len(report.unresolved))
    return report
