"""SQL metadata of the catalogue: songs, stems (whose ids are the FAISS ids) and index jobs, plus engines.

The schema changes only through the Alembic revisions in `migrations/` (`upgrade`); nothing here creates
tables. SQLite (the embedded default) runs in WAL mode so the service reads while an index job writes.

Which stems a published build holds is recorded per row as a span of build numbers: `published_build` (the
first build of the span) and `retired_build` (the first build without the stem, NULL while it is still in),
written by each publish before its manifest (indexer.publish). `shown_in(n)` selects build n's stems, so an
API replica that serves build n lists exactly the stems it can search, whatever a running index job has
done to the rows' `status` (the write side's own bookkeeping) since.
"""

import enum
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    create_engine,
    event,
    inspect,
    or_,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, sessionmaker

from indexer.errors import CatalogueNotFoundError

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def utcnow() -> datetime:
    return datetime.now(UTC)


class StemStatus(enum.StrEnum):
    PENDING = "pending"  # known, not embedded yet (or to be re-embedded)
    INDEXED = "indexed"  # vector and frames are durable in the index directory
    FAILED = "failed"  # decoding failed; `error` says why; skipped until the file changes


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Base(DeclarativeBase):
    pass


class Song(Base):
    __tablename__ = "songs"
    __table_args__ = (UniqueConstraint("source", "key", name="uq_songs_source_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(Text)  # absolute catalogue root or manifest the song came from
    key: Mapped[str] = mapped_column(Text)  # song id within the source (relative path or manifest 'song')
    title: Mapped[str | None] = mapped_column(Text)
    artist: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[str | None] = mapped_column(Text)  # comma-separated
    licence: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    stems: Mapped[list["Stem"]] = relationship(back_populates="song", cascade="all, delete-orphan")


class Stem(Base):
    __tablename__ = "stems"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # = FAISS id
    song_id: Mapped[int] = mapped_column(ForeignKey("songs.id", ondelete="CASCADE"), index=True)
    instrument: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(Text)
    path: Mapped[str] = mapped_column(Text)
    stream: Mapped[int | None] = mapped_column(Integer)
    source_key: Mapped[str] = mapped_column(Text, unique=True)  # path, or path#stream
    file_size: Mapped[int] = mapped_column(BigInteger)
    file_mtime_ns: Mapped[int] = mapped_column(BigInteger)
    content_sha256: Mapped[str | None] = mapped_column(String(64), index=True)  # of file bytes + stream
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    sample_rate: Mapped[int | None] = mapped_column(Integer)  # the source's own rate, Hz
    frame_count: Mapped[int | None] = mapped_column(Integer)
    # musical analysis (analysis.music.facts_of); NULL until analysed, analysis_version says by which code
    bpm: Mapped[float | None] = mapped_column(Float, index=True)
    bpm_confidence: Mapped[float | None] = mapped_column(Float)
    key: Mapped[str | None] = mapped_column(String(16), index=True)  # e.g. "A minor"
    key_mode: Mapped[str | None] = mapped_column(String(8))
    camelot: Mapped[str | None] = mapped_column(String(4), index=True)  # e.g. "8A"
    key_confidence: Mapped[float | None] = mapped_column(Float)
    loudness_dbfs: Mapped[float | None] = mapped_column(Float)
    beat_period: Mapped[float | None] = mapped_column(Float)  # s
    beats_per_bar: Mapped[int | None] = mapped_column(Integer)
    downbeat_seconds: Mapped[float | None] = mapped_column(Float)  # first bar start, s
    analysis_version: Mapped[int | None] = mapped_column(Integer)
    # the span of published builds that hold the stem: [published_build, retired_build); NULL: in none
    published_build: Mapped[int | None] = mapped_column(Integer)
    retired_build: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True, default=StemStatus.PENDING)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    indexed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    song: Mapped[Song] = relationship(back_populates="stems")


def shown_in(build: int) -> ColumnElement[bool]:
    """The stems published build `build` holds (a condition on the stems table)."""
    return and_(Stem.published_build.is_not(None), Stem.published_build <= build,
                or_(Stem.retired_build.is_(None), Stem.retired_build > build))


class IndexJob(Base):
    __tablename__ = "index_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True, default=JobStatus.QUEUED)
    catalogue: Mapped[str] = mapped_column(Text)
    engine: Mapped[str] = mapped_column(String(16), default="local")
    rebuild: Mapped[bool] = mapped_column(Boolean, default=False)  # re-embed every stem
    checkpoint_hash: Mapped[str | None] = mapped_column(String(64))
    embedding_version: Mapped[str | None] = mapped_column(String(32))
    total: Mapped[int] = mapped_column(Integer, default=0)  # stems to embed in this job
    done: Mapped[int] = mapped_column(Integer, default=0)  # embedded or failed so far
    added: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    removed: Mapped[int] = mapped_column(Integer, default=0)
    audio_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    build: Mapped[int | None] = mapped_column(Integer)  # manifest build number it published
    indexed_total: Mapped[int | None] = mapped_column(Integer)  # stems in the build it published
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite files get WAL, foreign keys and a busy timeout, and their folder is made."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Applies the Alembic migrations to `url` up to `revision` (creating the database file if SQLite)."""
    from alembic import command

    if url.startswith("sqlite"):
        make_engine(url).dispose()  # creates the folder
    command.upgrade(alembic_config(url), revision)


def require_schema(engine: Engine) -> None:
    """Raises CatalogueNotFoundError when the database has not been migrated."""
    tables = set(inspect(engine).get_table_names())
    missing = {"songs", "stems", "index_jobs"} - tables
    if missing:
        raise CatalogueNotFoundError(
            f"database {engine.url.render_as_string(hide_password=True)} lacks tables {sorted(missing)}; "
            "run `stemjepa db upgrade`"
        )
