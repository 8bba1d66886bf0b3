"""Sync stage: a discovered catalogue -> SQL song and stem rows, deciding what needs embedding.

A stem is known by its source key (path, or path#stream). Unchanged size and mtime mean unchanged content;
otherwise the content hash decides: same hash -> only the file facts are updated; new hash -> the old row
(and so its vector, at the next publish) is dropped and a new pending row takes its place.
"""

import logging
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from indexer.db import Song, Stem, StemStatus
from indexer.decode import content_sha256
from model.instruments import InstrumentVocabulary
from model.multitrack import SongRef, StemRef, discover

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


def _upsert_song(s: Session, source: str, ref: SongRef, songs: dict[str, Song]) -> Song:
    song = songs.get(ref.song_id)
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
    """Discovers `catalogue` (folder, manifest or .stem.mp4) and brings its SQL rows up to date.

    `prune` also drops the rows of this source whose files were not discovered; `retry_failed` re-queues
    stems that failed to decode before even when their file is unchanged.
    """
    root = Path(catalogue).resolve()
    found = discover(root, vocab)
    report = SyncReport(str(root), unresolved=list(found.unresolved))
    with sessions() as s, s.begin():
        songs = {song.key: song for song in s.scalars(select(Song).where(Song.source == report.source))}
        rows = {st.source_key: st for st in s.scalars(select(Stem).join(Song).where(Song.source == report.source))}
        seen: set[str] = set()
        for ref in found.songs:
            song = _upsert_song(s, report.source, ref, songs)
            report.songs += 1
            for stem in ref.stems:
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
             root, report.songs, report.stems, report.new, report.changed, report.unchanged, report.pruned,
             len(report.unresolved))
    return report
