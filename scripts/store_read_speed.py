"""Read cost of a hit's alignment data, store format 2 beside format 3: the time to read and decode 10 stems'
frames and signatures (FrameStore.get, AnalysisStore's Signature.from_stored) from packs written by
evaluation.scalecat (3-minute stems, real onset and chroma rows of `--source` or synthesised ones), warm page
cache, the formats interleaved round by round, one intra-op thread (the service's default, STEMJEPA_THREADS=1).
Prints median wall and CPU milliseconds per 10 hits.

    PYTHONPATH=. .venv/bin/python scripts/store_read_speed.py --source ../shared/data/extra/trackswitch-demo
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from analysis.signature import Signature
from evaluation import scalecat
from indexer.analyses import CODECS
from indexer.frames import FrameStore, frame_codec
from model.threads import limit_threads


def open_stores(folder: Path, names: dict[str, str], frame_dim: int, coded: bool) -> dict[str, FrameStore]:
    codecs = {"frames": frame_codec(frame_dim), **CODECS} if coded else {}
    widths = {"frames": frame_dim, "onsets": 5, "chroma": 12}
    return {k: FrameStore(folder, [n], widths[k], codec=codecs.get(k)) for k, n in names.items()}


def read_hits(stores: dict[str, FrameStore], ids: list[int]) -> tuple[float, float]:
    """CPU seconds to read and decode the hits' rows, then to build their signatures (accents)."""
    c0 = time.process_time()
    got = [tuple(stores[k].get(i) for k in ("frames", "onsets", "chroma")) for i in ids]
    c1 = time.process_time()
    for frames, onsets, chroma in got:
        assert frames is not None and onsets is not None and chroma is not None
        Signature.from_stored(onsets, chroma)
    return c1 - c0, time.process_time() - c1


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", type=Path, default=None, help="Folder of audio files whose analysis to store.")
    p.add_argument("--seconds", type=float, default=180.0)
    p.add_argument("--pool", type=int, default=40)
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--frame-dim", type=int, default=128)
    args = p.parse_args()
    limit_threads(1)
    rows = scalecat.real_rows(args.source, seconds=args.seconds)
    lay = scalecat.layout(args.seconds, 0.16)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        stores = {fmt: open_stores(root / f"pool-{fmt}", scalecat.write_pool(root, rows, args.pool, args.frame_dim,
                                                                             lay, fmt), args.frame_dim,
                                   fmt == "format3") for fmt in ("int8", "format3")}
        times: dict[str, list[tuple[float, float, float]]] = {fmt: [] for fmt in stores}
        for r in range(args.rounds + 1):
            ids = [int(i) for i in rng.choice(args.pool, 10, replace=False)]
            for fmt in (("int8", "format3") if r % 2 else ("format3", "int8")):
                t0 = time.perf_counter()
                decode, signature = read_hits(stores[fmt], ids)
                if r:  # the first round warms the page cache
                    times[fmt].append(((time.perf_counter() - t0) * 1e3, decode * 1e3, signature * 1e3))
    print(f"10 hits of {args.seconds:.0f} s stems, median of {args.rounds} interleaved rounds (warm), ms:")
    for fmt, label in (("int8", "format 2"), ("format3", "format 3")):
        wall, decode, signature = np.median(np.array(times[fmt]), axis=0)
        print(f"  {label}: {wall:6.2f} wall; CPU: {decode:6.2f} read + decode, {signature:6.2f} signatures (accents)")


if __name__ == "__main__":
    main()
