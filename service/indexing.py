"""The service's bridge to the indexer's write side: migrate the database and build an index with settings."""

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from model.embed import Embedder
from service.settings import ServiceSettings

log = logging.getLogger(__name__)


def migrate(settings: ServiceSettings) -> None:
    """Applies the database migrations (creating the SQLite file when that is the database)."""
    from indexer.db import upgrade

    upgrade(settings.database_url)


def run_indexer(settings: ServiceSettings, source: Path, rebuild: bool, progress: Callable[[float], None],
                embedder: Embedder | None = None, workers: int | None = None) -> dict[str, Any]:
    """Indexes `source` into the service's index; returns the indexer's report as a small dict."""
    from indexer.build import Progress, build_index
    from indexer.settings import IndexerSettings

    def on_progress(p: Progress) -> None:
        progress(p.done / p.total if p.total else (1.0 if p.stage == "publish" else 0.0))

    migrate(settings)
    report = build_index(source, IndexerSettings.over(settings, workers=workers), embedder=embedder,
                         progress=on_progress, rebuild=rebuild)
    return {"job_id": report.job_id, "build": report.build, "added": report.added, "skipped": report.skipped,
            "failed": report.failed, "removed": report.removed, "indexed_total": report.indexed_total,
            "audio_seconds": round(report.audio_seconds, 2), "seconds": round(report.seconds, 2)}
