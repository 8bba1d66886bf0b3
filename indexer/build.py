"""The indexer's write side: `build_index` (catalogue -> published build) and `remove_stems`.

A job (one row of indexer.jobs) takes the index directory's lock, checks the published build belongs to the
same checkpoint (or runs as a rebuild: asked for, or one under way that it resumes; indexer.generation),
reconciles (after a crash), syncs the catalogue into SQL, embeds what is pending (local processes or Ray),
committing durable batches, and publishes a new build. A rebuild is blue/green: the published build serves
until the rebuilt one replaces it, and a failed rebuild leaves it in service. Each stage is timed and logged
with its counts.
"""

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.orm import sessionmaker

from analysis.music import ANALYSIS_VERSION
from indexer import generation, jobs
from indexer.db import Song, Stem, StemStatus, make_engine, require_schema, session_factory
from indexer.decode import FileTask
from indexer.errors import IndexerError
from indexer.lock import index_lock
from indexer.manifest import check_model, read_manifest
from indexer.pipeline import Outcome, run_local
from indexer.publish import PublishReport, publish, reconcile
from indexer.settings import IndexerSettings
from indexer.sync import sync_catalogue
from indexer.writer import Writer
from model.embed import Embedder

log = logging.getLogger(__name__)

Engine = Literal["local", "ray"]


@dataclass(frozen=True)
class Progress:
    """Where a job is: stage name, stems done of total, audio seconds embedded, failures so far."""

    stage: str
    done: int
    total: int
    audio_seconds: float = 0.0
    failed: int = 0


@dataclass
class IndexReport:
    job_id: int
    catalogue: str
    build: int | None
    discovered: int = 0
    added: int = 0
    analysed: int = 0  # stems embedded before, analysed (only) by this job
    skipped: int = 0
    failed: int = 0
    removed: int = 0
    indexed_total: int = 0
    audio_seconds: float = 0.0
    seconds: float = 0.0
    unresolved: list[tuple[str, str]] = field(default_factory=list)  # (path, reason): no instrument class
    failures: list[tuple[str, str]] = field(default_factory=list)  # (source key, error): decode failures
    stage_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def audio_seconds_per_second(self) -> float:
        embed = self.stage_seconds.get("embed", 0.0)
        return self.audio_seconds / embed if embed > 0 else 0.0


ProgressFn = Callable[[Progress], None]


@contextmanager
def _stage(name: str, times: dict[str, float]) -> Iterator[None]:
    start = time.perf_counter()
    yield
    times[name] = time.perf_counter() - start
    log.info("stage %-9s %7.2f s", name, times[name])


def model_facts(embedder: Embedder) -> dict[str, Any]:
    """What the manifest records about the model that embedded the build."""
    return {"checkpoint_hash": embedder.checkpoint_hash, "embedding_version": embedder.embedding_version,
            "model": embedder.cfg.name, "dim": embedder.dim, "frame_dim": embedder.frame_dim,
            "frame_seconds": embedder.frame_seconds,
            "vocabulary": list(embedder.vocabulary.names)}


def _pending_tasks(sessions: sessionmaker) -> tuple[list[FileTask], dict[int, str]]:
    """Files to decode: stems to embed (pending) and indexed stems whose analysis is missing or was made by
    other analysis code (analysed only, not embedded again); and every such stem's source key."""
    unanalysed = or_(Stem.analysis_version.is_(None), Stem.analysis_version != ANALYSIS_VERSION)
    with sessions() as s:
        rows = s.execute(select(Stem.id, Stem.path, Stem.stream, Stem.source_key, Stem.status)
                         .where(or_(Stem.status == StemStatus.PENDING,
                                    and_(Stem.status == StemStatus.INDEXED, unanalysed)))
                         .order_by(Stem.path, Stem.id)).all()
    by_path: dict[str, list[tuple[int, int | None]]] = {}
    only: dict[str, set[int]] = {}
    for sid, path, stream, _, status in rows:
        by_path.setdefault(path, []).append((int(sid), stream))
        if status == StemStatus.INDEXED:
            only.setdefault(path, set()).add(int(sid))
    tasks = [FileTask(p, tuple(st), frozenset(only.get(p, ()))) for p, st in by_path.items()]
    return tasks, {int(r[0]): r[3] for r in rows}


def _outcomes(engine: Engine, tasks: list[FileTask], embedder: Embedder,
              settings: IndexerSettings) -> Iterator[Outcome]:
    if engine == "ray":
        from indexer.ray_engine import run_ray

        return run_ray(tasks, settings, embedder)
    return run_local(tasks, embedder, settings.batch_size, settings.workers)


@dataclass(frozen=True)
class IndexOptions:
    """How a job indexes: `engine` local processes or Ray; `prune` removes stems of this catalogue whose files
    are gone; `rebuild` re-embeds everything (needed when the checkpoint changed); `retry_failed` decodes
    stems that failed before again."""

    engine: Engine = "local"
    prune: bool = False
    rebuild: bool = False
    retry_failed: bool = False


def build_index(catalogue: str | Path, settings: IndexerSettings, embedder: Embedder | None = None,
                options: IndexOptions = IndexOptions(), progress: ProgressFn | None = None,
                job_id: int | None = None) -> IndexReport:
    """Indexes `catalogue` (folder, manifest CSV/JSONL or .stem.mp4) into settings' database and index dir,
    as job `job_id` (a row of indexer.jobs; a new row when None).

    Idempotent and resumable: what is indexed is skipped, an interrupted job continues (an interrupted
    rebuild continues as a rebuild). The database must be migrated (`indexer.db.upgrade`). A failure is
    recorded in the job's row in words without SQL or server paths (jobs.public_error) and raised.

    Raises:
        IndexMismatchError: the published build is from another checkpoint and no rebuild is asked for or
            under way.
        IndexBusyError: another job holds the index directory.
    """
    started = time.perf_counter()
    db = make_engine(settings.database_url)
    try:
        require_schema(db)
        sessions = session_factory(db)
        if job_id is None:
            job_id = jobs.insert_job(sessions, str(catalogue), options.engine, options.rebuild)
        run = _Run(catalogue, settings, options, sessions, job_id, progress)
        try:
            report = run.execute(embedder)
        except BaseException as exc:
            log.error("index job %d failed: %s: %s", job_id, type(exc).__name__, exc)
            roots = (Path(catalogue).resolve(), Path(settings.index_dir).resolve())
            jobs.mark_failed(sessions, job_id, jobs.public_error(exc, roots))
            raise
    finally:
        db.dispose()
    report.seconds = time.perf_counter() - started
    log.info("indexed %s: +%d stems, %d skipped, %d failed, %d removed, %d in the index; %.1f h audio in %.1f s",
             report.catalogue, report.added, report.skipped, report.failed, report.removed, report.indexed_total,
             report.audio_seconds / 3600, report.seconds)
    return report


@dataclass
class _Run:
    """One job's run over the index directory it locks."""

    catalogue: str | Path
    settings: IndexerSettings
    options: IndexOptions
    sessions: sessionmaker
    job_id: int
    progress: ProgressFn | None

    def _tell(self, p: Progress) -> None:
        if self.progress is not None:
            self.progress(p)

    def execute(self, embedder: Embedder | None) -> IndexReport:
        settings, sessions, job_id = self.settings, self.sessions, self.job_id
        index_dir = Path(settings.index_dir)
        times: dict[str, float] = {}
        with index_lock(index_dir):
            jobs.mark_running(sessions, job_id)
            with _stage("load", times):
                embedder = embedder or Embedder.from_checkpoint(settings.checkpoint, settings.device)
            facts = model_facts(embedder)
            previous = read_manifest(index_dir)
            rebuild = generation.resume(index_dir, previous, embedder.checkpoint_hash, self.options.rebuild)
            if rebuild is None and previous is not None:
                check_model(previous, embedder.checkpoint_hash, embedder.embedding_version)
            if rebuild is not None and not self.options.rebuild:
                with sessions() as s, s.begin():
                    jobs.record(s, job_id, rebuild=True)  # it resumes one
            with _stage("reconcile", times):
                reconcile(sessions, index_dir, previous, embedder.checkpoint_hash, rebuild)
            with _stage("sync", times):
                synced = sync_catalogue(sessions, self.catalogue, embedder.vocabulary, prune=self.options.prune,
                                        retry_failed=self.options.retry_failed)
            tasks, keys = _pending_tasks(sessions)
            total = len(keys)
            with sessions() as s, s.begin():
                jobs.record(s, job_id, total=total, skipped=synced.stems - synced.new - synced.changed,
                            checkpoint_hash=embedder.checkpoint_hash, embedding_version=embedder.embedding_version)
            only = sum(len(t.analyse_only) for t in tasks)
            log.info("%d stems to embed and %d to analyse only, in %d files (%s engine, %d workers)", total - only,
                     only, len(tasks), self.options.engine, settings.workers)
            writer = Writer(sessions, index_dir, embedder.checkpoint_hash, job_id, settings.commit_stems,
                            settings.commit_seconds,
                            lambda w: self._tell(Progress("embed", w.done, total, w.audio_seconds, w.failed)),
                            embedder.dim, embedder.frame_dim, rebuild.generation if rebuild else "")
            self._tell(Progress("embed", 0, total))
            with _stage("embed", times):
                for outcome in _outcomes(self.options.engine, tasks, embedder, settings):
                    writer.add(outcome)
                writer.commit()
            with _stage("publish", times):
                self._tell(Progress("publish", writer.done, total, writer.audio_seconds, writer.failed))
                published = publish(sessions, index_dir, facts, settings, previous, fresh=rebuild is not None)
            if rebuild is not None:
                generation.finish(index_dir)
            report = _report(job_id, synced.source, synced, writer, published, keys, times)
            jobs.mark_succeeded(sessions, job_id, published.build, published.stems, published.removed)
        return report


def _report(job_id: int, source: str, synced: Any, writer: Writer, published: PublishReport,
            keys: dict[int, str], times: dict[str, float]) -> IndexReport:
    return IndexReport(
        job_id=job_id, catalogue=source, build=published.build, discovered=synced.stems,
        added=writer.added, analysed=writer.analysed, skipped=synced.stems - synced.new - synced.changed,
        failed=writer.failed,
        removed=published.removed, indexed_total=published.stems, audio_seconds=writer.audio_seconds,
        unresolved=list(synced.unresolved), failures=[(keys.get(i, str(i)), e) for i, e in writer.failures],
        stage_seconds=times)


def remove_stems(settings: IndexerSettings, stem_ids: Sequence[int] = (), song_ids: Sequence[int] = (),
                 embedder_facts: dict[str, Any] | None = None) -> PublishReport:
    """Deletes stems (and whole songs) from SQL and publishes a build without their vectors and frames.

    Raises:
        CatalogueNotFoundError: nothing has been published in settings' index dir yet.
        IndexerError: a rebuild is under way (it would publish over the build this removes from).
    """
    from indexer.manifest import require_manifest

    index_dir = Path(settings.index_dir)
    db = make_engine(settings.database_url)
    try:
        require_schema(db)
        sessions = session_factory(db)
        with index_lock(index_dir):
            previous = require_manifest(index_dir)
            pending = generation.read(index_dir)
            if pending is not None and not generation.published(pending, previous):
                raise IndexerError("a rebuild is under way; run `stemjepa index` to finish it first")
            build_keys = ("build", "instruments", "frame_packs", "counts", "format", "created_at")
            facts = embedder_facts or {k: v for k, v in previous.items() if k not in build_keys}
            with sessions() as s, s.begin():
                if stem_ids:
                    s.execute(delete(Stem).where(Stem.id.in_([int(i) for i in stem_ids])))
                if song_ids:
                    s.execute(delete(Stem).where(Stem.song_id.in_([int(i) for i in song_ids])))
                    s.execute(delete(Song).where(Song.id.in_([int(i) for i in song_ids])))
            reconcile(sessions, index_dir, previous, str(previous["checkpoint_hash"]))
            return publish(sessions, index_dir, facts, settings, previous)
    finally:
        db.dispose()
