"""Reconcile and publish: make SQL, chunks and the published build agree, then publish a new build.

`reconcile` runs first in every job: rows still 'pending' whose vectors made it into a chunk (a kill
between chunk and SQL commit) are rolled forward, and so are analyses in chunks that SQL does not record;
rows 'indexed' whose vectors are in neither a chunk nor a published frame pack are rolled back to
'pending', and rows whose analysis is in neither a chunk nor a published analysis pack are marked
unanalysed; build spans (published_build, retired_build) that name a build never published are cleared. In
a rebuild (indexer.generation) only the chunks of its generation count: the published build is not durable
for the new one. `publish` then applies SQL to the FAISS indexes: removes ids that are no longer indexed in
SQL, adds chunk vectors not yet in an index (a rebuild starts from empty indexes and packs), converts an
instrument's index to IVF above the threshold, writes new index files, a frame pack and analysis packs
(temporary name, then rename), records in SQL which stems the new build adds and retires, writes the
manifest last, and only then deletes the folded chunks and files no manifest needs any more.
"""

import logging
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from analysis.music import ANALYSIS_VERSION
from indexer import vectors
from indexer.analyses import KINDS, analysed_ids, pack_names, plan_analyses, write_analysis_packs
from indexer.chunks import chunk_ids, list_chunks, read_chunk
from indexer.db import Stem, StemStatus, shown_in, utcnow
from indexer.frames import PACK_SUFFIXES, frame_codec, is_coded, read_pack_ids, write_pack
from indexer.generation import Generation
from indexer.manifest import FORMAT as MANIFEST_FORMAT
from indexer.manifest import write_manifest
from indexer.settings import IndexerSettings
from indexer.writer import analysis_values
from model.files import remove_temporaries

log = logging.getLogger(__name__)


@dataclass
class PublishReport:
    build: int | None  # None: nothing changed, nothing published
    stems: int = 0
    added: int = 0
    removed: int = 0
    lost: int = 0  # indexed in SQL without a durable vector: re-queued
    instruments: dict[str, dict[str, Any]] = field(default_factory=dict)


def _manifest_ids(index_dir: Path, manifest: dict[str, Any] | None) -> set[int]:
    if manifest is None:
        return set()
    return {int(i) for name in manifest["frame_packs"] for i in read_pack_ids(index_dir, name)}


def _batches(ids: list[int], size: int = 500) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def reconcile(sessions: sessionmaker, index_dir: Path, manifest: dict[str, Any] | None,
              checkpoint_hash: str, rebuild: Generation | None = None) -> tuple[int, int]:
    """Rolls chunk-committed rows forward and undurable 'indexed' rows back; returns (forward, back).

    `manifest` is the published one; in a `rebuild` only chunks of its generation are durable.
    """
    remove_temporaries(index_dir)
    remove_temporaries(index_dir / "chunks")
    base = None if rebuild is not None else manifest
    durable = _manifest_ids(index_dir, base)
    analysed = set(analysed_ids(index_dir, base))
    forward = analyses_forward = 0
    with sessions() as s, s.begin():
        _clear_unpublished_spans(s, -1 if manifest is None else int(manifest["build"]))
        for path in list_chunks(index_dir):
            c = read_chunk(path, arrays=False)
            if c.checkpoint_hash != checkpoint_hash:
                log.warning("dropping %s: embedded by another checkpoint", path.name)
                path.unlink()
                continue
            if rebuild is not None and c.generation != rebuild.generation:
                log.info("dropping %s: not embedded by this rebuild", path.name)
                path.unlink()
                continue
            embedded = c.is_embedded()
            durable.update(int(i) for i, e in zip(c.ids, embedded, strict=True) if e)
            version = c.analysis_version or ANALYSIS_VERSION
            for j, sid in enumerate(c.ids.tolist()):
                facts = analysis_values(c.analyses[j] if c.analyses else None, version)
                if facts:
                    analysed.add(int(sid))
                    res = s.execute(update(Stem).where(Stem.id == sid, or_(
                        Stem.analysis_version.is_(None), Stem.analysis_version != version)).values(**facts))
                    analyses_forward += res.rowcount  # type: ignore[attr-defined]
                if not embedded[j]:
                    continue
                res = s.execute(update(Stem).where(Stem.id == sid, Stem.status == StemStatus.PENDING).values(
                    status=StemStatus.INDEXED, error=None, content_sha256=c.sha256[j] or None,
                    duration_seconds=float(c.duration_seconds[j]), sample_rate=int(c.sample_rate[j]),
                    frame_count=int(c.frame_counts[j]) if c.frame_counts is not None else None, indexed_at=utcnow()))
                forward += res.rowcount  # type: ignore[attr-defined]
        indexed = set(s.scalars(select(Stem.id).where(Stem.status == StemStatus.INDEXED)))
        lost = sorted(indexed - durable)
        for batch in _batches(lost):
            s.execute(update(Stem).where(Stem.id.in_(batch)).values(status=StemStatus.PENDING))
        claimed = set(s.scalars(select(Stem.id).where(Stem.analysis_version.is_not(None))))
        unanalysed = sorted(claimed - analysed)
        for batch in _batches(unanalysed):
            s.execute(update(Stem).where(Stem.id.in_(batch)).values(analysis_version=None))
    if rebuild is not None:
        log.info("rebuild %s: %d stems re-embedded so far, %d to go", rebuild.generation[:8], len(durable), len(lost))
    elif forward or lost or analyses_forward or unanalysed:
        log.info("reconciled: %d stems rolled forward from chunks, %d re-queued (no durable vector); "
                 "%d analyses rolled forward, %d to redo (no durable analysis)",
                 forward, len(lost), analyses_forward, len(unanalysed))
    return forward, len(lost)


def _clear_unpublished_spans(s: Session, published: int) -> None:
    """Build spans that name a build after the `published` one (-1: none) were written by a publish killed
    before its manifest: that build was never served."""
    s.execute(update(Stem).where(Stem.published_build > published).values(published_build=None, retired_build=None))
    s.execute(update(Stem).where(Stem.retired_build > published).values(retired_build=None))


def _record_spans(sessions: sessionmaker, previous: int, build: int, held: set[int]) -> None:
    """Records in SQL that `build` holds exactly `held`: stems it adds start their span at `build`, stems of
    the `previous` build (-1: none) it drops end theirs there. Written before the manifest, so a replica
    still serving `previous` keeps listing what it can search."""
    with sessions() as s, s.begin():
        shown = set(s.scalars(select(Stem.id).where(shown_in(previous))))
        for batch in _batches(sorted(held - shown)):
            s.execute(update(Stem).where(Stem.id.in_(batch)).values(published_build=build, retired_build=None))
        for batch in _batches(sorted(shown - held)):
            s.execute(update(Stem).where(Stem.id.in_(batch)).values(retired_build=build))


def _file_name(build: int, instrument: str) -> str:
    return f"vectors-{build:06d}-{re.sub(r'[^A-Za-z0-9_.-]', '_', instrument)}.faiss"


def _fold_chunks(plan: list[tuple[Path, list[int]]], indexes: dict[str, Any], live: dict[int, str], dim: int,
                 changed: set[str]) -> Iterator[tuple[int, np.ndarray]]:
    """Adds the planned chunk vectors to their instrument's index while yielding their frames to the pack."""
    for path, positions in plan:
        if not positions:
            continue
        c = read_chunk(path)
        by_inst: dict[str, list[int]] = {}
        for j in positions:
            by_inst.setdefault(live[int(c.ids[j])], []).append(j)
        for inst, js in by_inst.items():
            idx = indexes.setdefault(inst, vectors.new_flat(dim))
            vectors.add(idx, c.ids[js], c.vectors[js])
            changed.add(inst)
        for j in positions:
            yield int(c.ids[j]), c.frames[j]


def publish(sessions: sessionmaker, index_dir: Path, facts: dict[str, Any], settings: IndexerSettings,
            previous: dict[str, Any] | None, fresh: bool = False) -> PublishReport:
    """Publishes SQL's indexed stems as a new build over `previous` (None: nothing published yet); `fresh`
    (a rebuild) starts from empty indexes and packs instead of the previous build's."""
    with sessions() as s:
        rows = s.execute(select(Stem.id, Stem.instrument).where(Stem.status == StemStatus.INDEXED))
        live = {int(i): inst for i, inst in rows}
    base = None if fresh else previous
    old_entries: dict[str, Any] = base["instruments"] if base else {}
    indexes = {inst: vectors.read(index_dir / e["file"]) for inst, e in old_entries.items()}
    changed: set[str] = set()
    report = PublishReport(build=None)
    for inst, idx in indexes.items():
        dead = [i for i in vectors.index_ids(idx).tolist() if live.get(i) != inst]
        if dead:
            report.removed += vectors.remove(idx, np.asarray(dead, dtype=np.int64))
            changed.add(inst)
    seen = {int(i) for idx in indexes.values() for i in vectors.index_ids(idx)}
    chunk_paths = list_chunks(index_dir)
    plan, total_rows = [], 0
    for path in chunk_paths:
        ids, counts, embedded = chunk_ids(path)
        positions = [j for j, i in enumerate(ids.tolist()) if embedded[j] and i in live and i not in seen]
        seen.update(int(ids[j]) for j in positions)
        total_rows += int(counts[positions].sum()) if positions else 0
        plan.append((path, positions))
    report.added = sum(len(p) for _, p in plan)
    lost = sorted(set(live) - seen)
    if lost:  # reconcile() prevents this; never publish a row without its vector
        log.warning("%d indexed stems have no vector; re-queued", len(lost))
        with sessions() as s, s.begin():
            s.execute(update(Stem).where(Stem.id.in_(lost)).values(status=StemStatus.PENDING))
        report.lost = len(lost)
    if base is not None and not changed and not report.added and not chunk_paths:
        report.build, report.stems = int(base["build"]), sum(int(e["count"]) for e in old_entries.values())
        report.instruments = old_entries
        return report

    build = int(previous["build"]) + 1 if previous else _next_build(index_dir)
    packs = list(base["frame_packs"]) if base else []
    if report.added:
        name = f"frames-{build:06d}"
        frame_dim = int(facts["frame_dim"])
        codec = frame_codec(frame_dim) if settings.store_format >= 3 else None
        write_pack(index_dir, name, _fold_chunks(plan, indexes, live, int(facts["dim"]), changed), total_rows,
                   frame_dim, np.int8, codec)
        packs.append(name)
    packs = [p for p in packs if any(int(i) in live for i in read_pack_ids(index_dir, p))]
    analysis_packs = _publish_analyses(index_dir, build, chunk_paths, live, base, settings.store_format)
    entries = _write_indexes(index_dir, build, indexes, changed, old_entries, settings)
    held = {int(i) for idx in indexes.values() for i in vectors.index_ids(idx)}
    _record_spans(sessions, -1 if previous is None else int(previous["build"]), build, held)
    with sessions() as s:
        count_songs = select(func.count(func.distinct(Stem.song_id))).where(Stem.status == StemStatus.INDEXED)
        songs = int(s.execute(count_songs).scalar_one())
    stems = sum(int(e["count"]) for e in entries.values())
    analysed = len(set(analysed_ids(index_dir, {"analysis_packs": analysis_packs})) & set(live))
    # Store format 3 packs need a format 2 manifest (older readers refuse it instead of misreading the packs);
    # a build that still names format 3 packs of an earlier publish keeps format 2 even when writing format 2.
    coded = settings.store_format >= 3 or _names_coded_packs(index_dir, packs, analysis_packs)
    write_manifest(index_dir, {**facts, "build": build, "instruments": entries, "frame_packs": packs,
                               "frame_format": settings.store_format, "analysis_format": settings.store_format,
                               "frame_dtype": "uint8" if settings.store_format >= 3 else "int8",
                               "analysis_packs": analysis_packs, "analysis_version": ANALYSIS_VERSION,
                               "counts": {"stems": stems, "frames": stems, "songs": songs, "analysed": analysed}},
                   MANIFEST_FORMAT if coded else 1)
    for path in chunk_paths:
        path.unlink(missing_ok=True)
    _collect_garbage(index_dir, entries, [*packs, *(p for names in analysis_packs.values() for p in names)], previous)
    report.build, report.stems, report.instruments = build, stems, entries
    log.info("published build %d: %d stems (+%d, -%d)", build, stems, report.added, report.removed)
    return report


def _publish_analyses(index_dir: Path, build: int, chunk_paths: list[Path], live: dict[int, str],
                      previous: dict[str, Any] | None, store_format: int) -> dict[str, list[str]]:
    """The previous build's analysis packs that still hold a live stem, plus new packs of the chunks'
    analyses for live stems: kind -> pack names, oldest first (later packs win when read)."""
    packs = pack_names(previous)
    new = write_analysis_packs(index_dir, build, plan_analyses(chunk_paths, set(live)), store_format)
    for kind in KINDS:
        packs[kind] = [p for p in packs[kind] if any(int(i) in live for i in read_pack_ids(index_dir, p))]
        if kind in new:
            packs[kind].append(new[kind])
    return packs


def _names_coded_packs(index_dir: Path, frame_packs: list[str], analysis_packs: dict[str, list[str]]) -> bool:
    """Whether any of these packs is of store format 3."""
    names = [*frame_packs, *(p for kind in analysis_packs.values() for p in kind)]
    return any(is_coded(index_dir, name) for name in names)


def _write_indexes(index_dir: Path, build: int, indexes: dict[str, Any], changed: set[str],
                   old_entries: dict[str, Any], settings: IndexerSettings) -> dict[str, dict[str, Any]]:
    entries: dict[str, dict[str, Any]] = {}
    for inst, idx in sorted(indexes.items()):
        if idx.ntotal == 0:
            continue
        ivf = old_entries.get(inst, {}).get("ivf") if vectors.is_ivf(idx) else None
        if not vectors.is_ivf(idx) and idx.ntotal > settings.ivf_threshold:
            ids, vecs = vectors.flat_vectors(idx)
            idx, info = vectors.train_ivf(ids, vecs, settings.ivf_factory, nprobe=settings.ivf_nprobe)
            ivf = asdict(info)
            changed.add(inst)
        if inst in changed or inst not in old_entries:
            name = _file_name(build, inst)
            vectors.write(idx, index_dir / name)
        else:
            name = old_entries[inst]["file"]
        entries[inst] = {"file": name, "type": "ivf" if vectors.is_ivf(idx) else "flat", "count": int(idx.ntotal),
                         "ivf": ivf}
    return entries


def _next_build(index_dir: Path) -> int:
    """Without a published manifest (never published, or lost), numbering continues past any files left in the
    folder."""
    numbers = [int(m.group(1)) for p in index_dir.glob("*-*")
               if (m := re.match(r"(?:vectors|frames|features|onsets|chroma|beats)-(\d+)", p.name))]
    return max(numbers, default=0) + 1


def _collect_garbage(index_dir: Path, entries: dict[str, Any], packs: list[str],
                     previous: dict[str, Any] | None) -> None:
    """Deletes index files and packs that neither this build nor the previous one (still open in readers) names."""
    keep = {e["file"] for e in entries.values()} | {f"{p}{suffix}" for p in packs for suffix in PACK_SUFFIXES}
    if previous is not None:
        keep |= {e["file"] for e in previous["instruments"].values()}
        old_packs = [*previous["frame_packs"], *(p for names in pack_names(previous).values() for p in names)]
        keep |= {f"{p}{suffix}" for p in old_packs for suffix in PACK_SUFFIXES}
    stale = [*index_dir.glob("vectors-*.faiss"),
             *(p for kind in ("frames", *KINDS) for p in index_dir.glob(f"{kind}-*.npy"))]
    for path in stale:
        if path.name not in keep:
            path.unlink(missing_ok=True)
