"""The loaded state of one app: model, catalogue, batcher, retriever and index jobs, and its readiness.

Loading happens off the request path (a background thread by default) so the process answers /healthz at
once and /readyz says 503 until both the model and the index are in memory.
"""

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from indexer.catalog import Catalogue
from model.embed import Embedder
from service.batching import MicroBatcher
from service.jobs import IndexJobs
from service.metrics import Metrics
from service.retrieval import Retriever
from service.settings import ServiceSettings
from service.stemaudio import StemAudio

log = logging.getLogger(__name__)


class Runtime:
    """Owns what the request handlers need; `ready` once model and catalogue are loaded."""

    def __init__(self, settings: ServiceSettings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.embedder: Embedder | None = None
        self.catalogue: Catalogue | None = None
        self.retriever: Retriever | None = None
        self.batcher: MicroBatcher | None = None
        self.stem_audio = StemAudio(settings.cache_dir)
        self.jobs: IndexJobs | None = None
        self.load_error: str | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def ready(self) -> bool:
        return self.retriever is not None

    def start(self) -> None:
        """Loads now, or in a background thread when the settings say so."""
        if self.settings.load_in_background:
            self._thread = threading.Thread(target=self._load_logged, name="stemjepa-loader", daemon=True)
            self._thread.start()
        else:
            self.load()

    def wait(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
        return self.ready

    def _load_logged(self) -> None:
        try:
            self.load()
        except Exception as exc:  # reported by /readyz; the process keeps answering /healthz
            log.exception("loading model or index failed")
            self.load_error = f"{type(exc).__name__}: {exc}"

    def load(self) -> None:
        s = self.settings
        embedder = Embedder.from_checkpoint(s.checkpoint, device=s.device, batch_size=s.embed_batch_size)
        self.embedder = embedder
        catalogue = Catalogue.open(s.database_url, s.index_dir, checkpoint_hash=embedder.checkpoint_hash,
                                   embedding_version=embedder.embedding_version)
        self.attach(embedder, catalogue)

    def attach(self, embedder: Embedder, catalogue: Catalogue) -> None:
        """Makes the runtime ready with an already loaded model and catalogue."""
        with self._lock:
            self.embedder = embedder
            self.catalogue = catalogue
            self.batcher = MicroBatcher(embedder.predict, self.settings.batch_max_size, self.settings.batch_wait_ms,
                                        on_batch=self.metrics.observe_batch)
            self.retriever = Retriever(embedder, catalogue, self.batcher, self.settings, self.metrics)
            self.metrics.catalogue_stems.set(catalogue.size(None))
            self.metrics.ready.set(1)
            self.load_error = None
        log.info("ready: model %s on %s, %d stems", embedder.cfg.name, embedder.device, catalogue.size(None))

    def reload_catalogue(self) -> None:
        """Picks up a newly published index build (after an index job)."""
        if self.catalogue is not None:
            self.catalogue.reload()
            self.metrics.catalogue_stems.set(self.catalogue.size(None))

    def index_jobs(self) -> IndexJobs:
        """The job queue, started on first use."""
        with self._lock:
            if self.jobs is None:
                self.jobs = IndexJobs(self.settings.catalogue_dir, self._index, self.reload_catalogue)
            return self.jobs

    def _index(self, source: Path, rebuild: bool, progress: Callable[[float], None]) -> dict[str, Any]:
        """Runs the indexer over `source` with this service's checkpoint, database and index folder."""
        from service.indexing import run_indexer

        return run_indexer(self.settings, source, rebuild, progress, embedder=self.embedder)

    def close(self) -> None:
        if self.batcher is not None:
            self.batcher.close()
        if self.jobs is not None:
            self.jobs.close()
        close = getattr(self.catalogue, "close", None)
        if callable(close):
            close()
