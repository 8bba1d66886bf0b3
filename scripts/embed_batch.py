"""Windows per forward pass on a CPU: a query's prediction (one and two threads, as the service embeds a lone
query) and stems' embedding (one thread, as the indexer does) at several pass sizes, interleaved round by round
in one process, with the outputs compared to the bit against the first size's.

    PYTHONPATH=. python scripts/embed_batch.py --sizes 16,8,4,2 --rounds 5

The model is the shipped checkpoint's size with random weights (speed does not depend on the weights); the
audio is noise (the model's cost does not depend on it). Prints per size and mode the median wall and CPU
(process time, all threads) in ms. model.embed.CPU_WINDOWS_PER_PASS was chosen with it.
"""

import argparse
import statistics
import time

import numpy as np
import torch

from evaluation.bench import random_model
from model.embed import Embedder, Embedding
from model.threads import limit_threads


def _same(a: list[Embedding], b: list[Embedding]) -> bool:
    return all(np.array_equal(x.vector, y.vector) and np.array_equal(x.frames, y.frames)
               for x, y in zip(a, b, strict=True))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="16,8,4,2", help="Windows per forward pass to compare (the first: reference).")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--query-seconds", type=float, default=180.0)
    p.add_argument("--stems", type=int, default=2, help="3-minute stems per embedding call.")
    p.add_argument("--model", default="compact")
    args = p.parse_args()
    limit_threads(1)  # as the service and the indexer run
    sizes = [int(x) for x in args.sizes.split(",")]
    embedder = Embedder(random_model(args.model), torch.device("cpu"))
    instrument = embedder.vocabulary.names[0]
    rng = np.random.default_rng(0)
    query = (0.1 * rng.standard_normal(int(args.query_seconds * embedder.sample_rate))).astype(np.float32)
    stems = [(0.1 * rng.standard_normal(180 * embedder.sample_rate)).astype(np.float32) for _ in range(args.stems)]
    modes = {
        "query, 1 thread": lambda: embedder.predict([query], [instrument], threads=1),
        "query, 2 threads": lambda: embedder.predict([query], [instrument], threads=2),
        f"{args.stems} stems, 1 thread": lambda: embedder.embed_stems(stems),
    }
    times: dict[tuple[str, int], list[tuple[float, float]]] = {}
    reference: dict[str, list[Embedding]] = {}
    same = True
    for mode, run in modes.items():  # warm-up, and the reference outputs
        embedder.batch_size = sizes[0]
        reference[mode] = run()
    for r in range(args.rounds):
        for size in sizes if r % 2 == 0 else sizes[::-1]:
            embedder.batch_size = size
            for mode, run in modes.items():
                c0, t0 = time.process_time(), time.perf_counter()
                out = run()
                times.setdefault((mode, size), []).append(((time.perf_counter() - t0) * 1e3,
                                                          (time.process_time() - c0) * 1e3))
                same = same and _same(out, reference[mode])
    print(f"{args.model} size, random weights; {args.query_seconds:g} s query, {args.stems} x 180 s stems; "
          f"{args.rounds} rounds; medians")
    print("| mode | windows per pass | wall ms | CPU ms |\n|---|---|---|---|")
    for (mode, size), xs in sorted(times.items(), key=lambda kv: (kv[0][0], -kv[0][1])):
        print(f"| {mode} | {size} | {statistics.median(x[0] for x in xs):.0f} | "
              f"{statistics.median(x[1] for x in xs):.0f} |")
    print("outputs equal to the bit across sizes:", same)


if __name__ == "__main__":
    main()
