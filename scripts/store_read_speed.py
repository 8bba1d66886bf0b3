"""Read cost of a hit's alignment data, store format 2 beside format 3: the CPU time to read and decode 10
stems' frames, onsets and chroma (FrameStore.get) and then to build their signatures (Signature.from_stored,
the accents), from packs written by evaluation.scalecat (3-minute stems, real onset and chroma rows of
`--source` or synthesised ones), warm page cache, the formats interleaved round by round, one intra-op thread
(the service's default, STEMJEPA_THREADS=1). Prints medians in ms (evaluation.storesize.read_speed).

    PYTHONPATH=. .venv/bin/python scripts/store_read_speed.py --source ../shared/data/extra/trackswitch-demo
"""

import argparse
import tempfile
from pathlib import Path

from evaluation import scalecat
from evaluation.storesize import read_speed
from model.threads import limit_threads


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", type=Path, default=None, help="Folder of audio files whose analysis to store.")
    p.add_argument("--seconds", type=float, default=180.0)
    p.add_argument("--pool", type=int, default=40)
    p.add_argument("--rounds", type=int, default=60)
    args = p.parse_args()
    limit_threads(1)
    rows = scalecat.real_rows(args.source, seconds=args.seconds)
    with tempfile.TemporaryDirectory() as tmp:
        got = read_speed(Path(tmp), rows, args.seconds, args.pool, args.rounds)
    print(f"10 hits of {args.seconds:.0f} s stems, median of {args.rounds} interleaved rounds (warm), ms:")
    for fmt, r in got.items():
        print(f"  format {fmt}: {r['wall_ms']:6.2f} wall; CPU {r['decode_cpu_ms']:6.2f} read + decode, "
              f"{r['signature_cpu_ms']:6.2f} signatures (accents)")


if __name__ == "__main__":
    main()
