"""Chooses the service's offset method on training songs: trims each stem of each song by known cuts,
queries with the mix of the song's other stems, and scores offset methods by the share found within
+-80 ms (the issue's tolerance): the model curve, fusion variants' highest peaks, and placement among the
default fusion's peaks (analysis.placement, the service's default). Stems are analysed as the index stores
them (float16).

Run it on songs the model was trained on or held out from training (runs/data/musdb-fit or
runs/data/musdb-holdout), never on musdb18-7/valid: valid is the honest check, not a tuning set.

    .venv/bin/python scripts/alignment_sweep.py runs/data/musdb-holdout -c model/checkpoints/stemjepa-default.pt

With `--stored`, each stem's frames and signature are read back as a storage form keeps them, every form
scored in the same run (evaluation.storeforms; store format 2 beside 3):

    PYTHONPATH=. .venv/bin/python scripts/alignment_sweep.py ../shared/data/musdb18-7/train --weights 4:5.6:4 \
        --stored int8/int8 format3/format3
"""

import argparse
import json
from pathlib import Path

import numpy as np

from analysis.music import analyse
from evaluation.alignment import FusionSpec, offsets_by_spec
from evaluation.songs import load_songs, query_pairs
from evaluation.storeforms import StoreForm
from model.embed import Embedder

TOLERANCE = 0.08


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", type=Path)
    p.add_argument("-c", "--checkpoint", type=Path, default=None)
    p.add_argument("--cuts", type=float, nargs="+", default=[1.28, 2.0])
    p.add_argument("--weights", nargs="+", default=["8:5.6:0:0", "4:5.6:4", "4:5.6:4:0", "4:5.6:0", "4:0:4"],
                   help="fusion variants ONSET:HARMONY:ACCENT[:EXPONENT] (evaluation.alignment.FusionSpec)")
    p.add_argument("--min-overlap", type=float, default=2.0)
    p.add_argument("--stored", nargs="+", type=StoreForm.parse, default=(),
                   help="score every method once per storage form of each stem's frames and signature, "
                   "FRAMES/SIGNATURE, e.g. int8/int8 (format 2) sign/format3 (format 3): evaluation.storeforms")
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    specs = [FusionSpec.parse(w) for w in args.weights]
    embedder = Embedder.from_checkpoint(args.checkpoint, device="cpu")
    sr = embedder.sample_rate
    hits: dict[str, list[bool]] = {}
    rows = []
    for pair in query_pairs(load_songs(args.data, sr, embedder.vocabulary)):
        pred, query = embedder.predict_one(pair.mix, pair.instrument), analyse(pair.mix, sr)
        for cut in args.cuts:
            found = offsets_by_spec(embedder, pred, query, pair.stem[round(cut * sr):], pair.instrument, specs,
                                    args.min_overlap, forms=args.stored)
            rows.append({"song": pair.song_id, "stem": pair.instrument, "cut": cut, **found})
            for method, value in found.items():
                hits.setdefault(method, []).append(abs(value - cut) <= TOLERANCE)
    summary = {m: round(100 * float(np.mean(v)), 1) for m, v in hits.items()}
    instruments = sorted({r["stem"] for r in rows})
    print(f"{len(rows)} trimmed stems; % within {TOLERANCE * 1000:.0f} ms (all, then per instrument):")
    print(f"  {'method':>44}    all " + " ".join(f"{i:>7}" for i in instruments))
    per_instrument = {}
    for method, pct in summary.items():
        per_instrument[method] = {i: round(100 * float(np.mean([abs(r[method] - r["cut"]) <= TOLERANCE
                                                                for r in rows if r["stem"] == i])), 1)
                                  for i in instruments}
        print(f"  {method:>44}: {pct:5.1f} " + " ".join(f"{per_instrument[method][i]:7.1f}" for i in instruments))
    if args.out:
        args.out.write_text(json.dumps({"summary": summary, "per_instrument": per_instrument, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
