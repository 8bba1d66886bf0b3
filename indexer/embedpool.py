"""The process engine (`--engine procs`): every worker process decodes, analyses and embeds whole files with
its own copy of the model and one intra-op thread, so each core runs the whole path and none waits on another.

The local engine embeds in the parent while workers decode; on CPU that leaves the decoding cores idle
between files and the parent's one thread the bottleneck (embedding costs about twice the CPU of decoding
and analysis: 3-minute FLAC stems on the 2-core development machine). Here the parent only collects
outcomes for the writer, in completion order; a stem embeds identically in either engine (the same
`Embedder`, batching windows per file).
"""

import logging
import multiprocessing
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

from indexer.decode import FileTask, decode_file, worker_init
from indexer.pipeline import Outcome, analysed_only, embed_decoded, failure
from model.embed import Embedder
from model.threads import limit_threads

log = logging.getLogger(__name__)

_embedder: Embedder | None = None  # the worker process's model, set by _init


def _init(embedder: Embedder, threads: int) -> None:
    global _embedder
    worker_init()
    limit_threads(threads)
    _embedder = embedder


def outcomes_of(task: FileTask, embedder: Embedder) -> list[Outcome]:
    """Decodes, analyses and embeds one file's stems: failures, analysed-only stems, then embedded ones."""
    decoded = decode_file(task, embedder.sample_rate)
    out = [failure(d) if not d.ok else analysed_only(d) for d in decoded if not d.ok or not d.embed]
    return out + embed_decoded(embedder, [d for d in decoded if d.ok and d.embed])


def _work(task: FileTask) -> list[Outcome]:
    assert _embedder is not None, "worker not initialised"
    return outcomes_of(task, _embedder)


def run_procs(tasks: Iterable[FileTask], embedder: Embedder, workers: int, threads: int = 1,
              prefetch: int = 2) -> Iterator[Outcome]:
    """Outcomes of `tasks` from `workers` processes (each with `threads` intra-op threads), at most
    `workers * prefetch` files in flight; `workers` 0 runs them in this process."""
    if workers <= 0:
        for task in tasks:
            yield from outcomes_of(task, embedder)
        return
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init,
                             initargs=(embedder, threads)) as pool:
        pending: set[Future[list[Outcome]]] = set()
        it = iter(tasks)
        exhausted = False
        while pending or not exhausted:
            while not exhausted and len(pending) < workers * prefetch:
                nxt = next(it, None)
                if nxt is None:
                    exhausted = True
                    break
                pending.add(pool.submit(_work, nxt))
            if not pending:
                break
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                yield from fut.result()
