"""Intra-op threads of torch and of the BLAS/OpenMP pools (numpy, scipy, faiss): one explicit count per
process, set by each entry point from the `threads` setting.

On a machine whose cores are shared (decode workers, a second request, other services), a library that
spreads one matmul over every core spin-waits for the busy ones. Measured on the 2-core development machine
under load from other work (A/B interleaved, 3 runs each, medians; docs/architecture.md "Threads"): indexing
twelve 3-minute FLAC stems took 0.88x the wall time and 0.78x the CPU time with one thread than with the
default of two. Parallelism comes from processes and concurrent requests instead.
"""

import logging
import os

log = logging.getLogger(__name__)

# Read by OpenMP and BLAS runtimes when they load: libraries imported later and spawned worker processes.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def limit_threads(threads: int) -> int:
    """Sets torch's intra-op threads and every loaded BLAS/OpenMP pool to `threads`, and the environment so
    libraries loaded later and spawned workers follow; 0 leaves the libraries' own defaults (one per core).
    Returns torch's intra-op thread count afterwards."""
    import torch

    if threads < 0:
        raise ValueError(f"threads must be >= 0, got {threads}")
    if threads > 0:
        for name in THREAD_VARIABLES:
            os.environ[name] = str(threads)
        torch.set_num_threads(threads)
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=threads)
    log.info("intra-op threads: torch %d (setting %d; 0 = library default)", torch.get_num_threads(), threads)
    return torch.get_num_threads()
