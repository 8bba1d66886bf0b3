"""Index size per hour of audio, store format 2 beside format 3, measured on disk: indexes the same catalogue
with the real indexer (the shipped checkpoint on the CPU) once per store format, each into its own folder and
SQLite database, and prints the bytes of each component (frames, onsets, chroma, beats, features, FAISS,
manifest, SQL) over the hours of audio indexed (evaluation.storesize).

Each argument is a folder of songs (song folders or .stem.mp4 files) or one song folder of stem files.

    PYTHONPATH=. .venv/bin/python scripts/index_size.py ../shared/data/extra/trackswitch-demo \\
        ../shared/data/musdb18-7/train --limit 8 --out runs/index-size.json
"""

import argparse
import json
import logging
import tempfile
from pathlib import Path

from evaluation.storesize import COMPONENTS, copy_songs, index_size
from model.embed import Embedder


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sources", type=Path, nargs="+")
    p.add_argument("-c", "--checkpoint", type=Path, default=None)
    p.add_argument("--limit", type=int, default=None, help="Songs per source folder.")
    p.add_argument("--workers", type=int, default=0, help="Decoding processes (0: in the main process).")
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    embedder = Embedder.from_checkpoint(args.checkpoint, device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        catalogue = root / "catalogue"
        catalogue.mkdir()
        copy_songs(args.sources, catalogue, args.limit)
        rows = [index_size(catalogue, root, fmt, embedder, args.workers) for fmt in (2, 3)]
    print(f"{rows[0]['stems']} stems, {rows[0]['audio_hours'] * 60:.1f} min of audio; MB per hour of audio:")
    print(f"  {'component':>10} " + " ".join(f"{'format ' + str(r['store_format']):>9}" for r in rows))
    for k in COMPONENTS:
        print(f"  {k:>10} " + " ".join(f"{r['mb_per_hour'][k]:9.3f}" for r in rows))
    print(f"  {'alignment':>10} " + " ".join(f"{r['alignment_mb_per_hour']:9.3f}" for r in rows)
          + "   (frames + onsets + chroma)")
    print(f"  {'total':>10} " + " ".join(f"{r['total_mb_per_hour']:9.3f}" for r in rows))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
