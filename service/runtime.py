"""The loaded state of one app: model, catalogue, batcher, retriever, the index-job queue (and, by default,
its runner), and its readiness.

Loading happens off the request path (a background thread by default) so the process answers /healthz at
once and /readyz says 503 until both the model and the index are in memory. With no index published yet
(a first `docker compose up` starts the API beside the indexer), the model loads, the job queue and runner
start (so the API can index its own catalogue), /readyz says 503 with the reason, and the watcher thread
retries until a build appears. The watcher also picks up builds published by other processes (an index
worker, another replica's runner): replicas share one database and index volume, and none needs a restart to
see a new build.
"""

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import anyio

from indexer.catalog import Catalogue, CatalogueNotFoundError
from indexer.jobs import JobQueue, JobRecord, JobRunner
from indexer.settings import IndexerSettings
from model.embed import Embedder
from model.errors import redact_paths
from service.batching import MicroBatcher
from service.conform import Conformer
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
        self.compute: ThreadPoolExecutor | None = None  # the query's analysis and forward passes, on a CPU
        # One bound on decodes at once, uploads and catalogue streams together: each may take up to
        # max_decoded_samples of memory (README, Limits); the others wait in the event loop, not in a thread.
        self.decodes = anyio.CapacityLimiter(settings.max_concurrent_decodes)
        self.stem_audio = StemAudio(settings.cache_dir, settings.catalogue_dir)
        self.conformer = Conformer(self.stem_audio, settings.cache_dir, settings.conform_workers)
        self.jobs: JobQueue | None = None
        self.runner: JobRunner | None = None
        self.load_error: str | None = None
        self.waiting: str | None = None  # why the runtime is not ready yet while it waits for an index
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self._watcher: threading.Thread | None = None

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
        except Exception as exc:  # reported by /readyz (without server paths); the process keeps answering /healthz
            log.exception("loading model or index failed")
            self.load_error = redact_paths(f"{type(exc).__name__}: {exc}", self._roots())

    def _roots(self) -> list[str]:
        s = self.settings
        return [str(p) for p in (s.catalogue_dir, s.index_dir, s.cache_dir) if p is not None]

    def load(self) -> None:
        """Loads the model, opens the job queue, starts the job runner (unless settings say another process
        runs the jobs), opens the catalogue if a build is published (else waits for one: `waiting` says why),
        and starts the watcher that retries it and picks up builds published elsewhere."""
        s = self.settings
        embedder = Embedder.from_checkpoint(s.checkpoint, device=s.device, batch_size=s.embed_batch_size)
        self.embedder = embedder
        self.jobs = JobQueue(s.database_url)
        if s.run_index_jobs:
            self.runner = JobRunner(IndexerSettings.over(s), embedder, self._job_succeeded, s.index_jobs_poll_seconds)
            self.runner.start()
        self._open_catalogue()
        if s.catalogue_poll_seconds > 0 or self.catalogue is None:
            self._watcher = threading.Thread(target=self._watch, name="stemjepa-catalogue-watch", daemon=True)
            self._watcher.start()

    def _open_catalogue(self) -> bool:
        """Opens the published build and becomes ready; False (saying why in `waiting`) while there is none."""
        s, embedder = self.settings, self.embedder
        assert embedder is not None
        try:
            catalogue = Catalogue.open(s.database_url, s.index_dir, checkpoint_hash=embedder.checkpoint_hash,
                                       embedding_version=embedder.embedding_version)
        except CatalogueNotFoundError as exc:
            reason = redact_paths(str(exc), self._roots())
            if reason != self.waiting:
                log.warning("not ready, waiting for an index build: %s", exc)
            self.waiting = f"no index build is published yet ({reason}); index the catalogue (POST /index-jobs " \
                           "or `stemjepa index`) and this server loads it"
            return False
        self.attach(embedder, catalogue)
        return True

    def attach(self, embedder: Embedder, catalogue: Catalogue) -> None:
        """Makes the runtime ready with an already loaded model and catalogue."""
        with self._lock:
            self.embedder = embedder
            self.catalogue = catalogue
            threads = self.settings.embed_threads
            # On a CPU the query's analysis and its embedding's forward passes share one pool of `embed_threads`
            # workers: three busy threads on two cores time-slice and evict each other's caches (a 3-minute
            # query's embedding cost a tenth more CPU beside its analysis), while a shared pool runs the
            # analysis on one worker as the passes go through the other, then both take passes.
            if embedder.device.type == "cpu" and threads > 1 and self.compute is None:
                self.compute = ThreadPoolExecutor(threads, thread_name_prefix="compute")
            compute = self.compute if embedder.device.type == "cpu" else None
            self.batcher = MicroBatcher(partial(embedder.predict, threads=threads, pool=compute),
                                        self.settings.batch_max_size, self.settings.batch_wait_ms,
                                        on_batch=self.metrics.observe_batch)
            self.retriever = Retriever(embedder, catalogue, self.batcher, self.settings, self.metrics,
                                       self.decodes, compute)
            self.metrics.catalogue_stems.set(catalogue.size(None))
            self.metrics.ready.set(1)
            self.load_error = self.waiting = None
        log.info("ready: model %s on %s, %d stems", embedder.cfg.name, embedder.device, catalogue.size(None))

    def refresh_catalogue(self) -> bool:
        """Picks up a newer published index build (the first one, while waiting for it); True if it did."""
        if self.catalogue is None:
            return self.embedder is not None and self._open_catalogue()
        if not self.catalogue.refresh():
            return False
        self.metrics.catalogue_stems.set(self.catalogue.size(None))
        return True

    def _job_succeeded(self, job: JobRecord) -> None:
        log.info("index job %d published build %s", job.id, job.build)
        self.refresh_catalogue()

    def _watch(self) -> None:
        s = self.settings
        while not self._closed.wait(s.catalogue_poll_seconds or s.index_jobs_poll_seconds):
            if s.catalogue_poll_seconds <= 0 and self.catalogue is not None:
                return  # it only waited for the first build
            try:
                self.refresh_catalogue()
            except Exception:  # e.g. a build of another checkpoint: keep serving the one loaded, say why
                log.exception("a newly published index build could not be loaded; serving the previous one")

    def submit_job(self, source: str, rebuild: bool) -> JobRecord:
        """Queues an index job; this process's runner (if it runs one) starts it at once."""
        assert self.jobs is not None
        job = self.jobs.submit(source, rebuild, max_queued=self.settings.max_queued_jobs)
        if self.runner is not None:
            self.runner.wake()
        return job

    def close(self) -> None:
        self._closed.set()
        if self.batcher is not None:
            self.batcher.close()
        if self.retriever is not None:
            self.retriever.close()
        if self.compute is not None:
            self.compute.shutdown(wait=True)
        if self.runner is not None:
            self.runner.close(timeout=0)
        if self.jobs is not None:
            self.jobs.close()
        close = getattr(self.catalogue, "close", None)
        if callable(close):
            close()
