"""Does the frozen query predictor (model.querypredictor) compute what the checkpoint's own predictor computes, on
audio its units were not fitted on, and how much faster is a query? One run:

    PYTHONPATH=. python scripts/query_predictor_check.py ../shared/data/extra/trackswitch-demo \
        ../shared/data/extra/waveform-playlist-demo --songs runs/data/musdb-holdout --out check.json

For every folder of stems (one file per stem: each stem's mix is the sum of the others) and every song of --songs
(multitrack songs: the mixes of each song's other stems), per instrument and RMS level: the largest difference of the
query vector and of the frames between three predictors: the model's own ("own"), the instrument folded into the
first layer's bias ("folded"), and folded with the units that never fired left out ("cut", the checkpoint's
sidecar, as the service runs it); and how many query vectors' nearest stems change. Then a 3-minute query's
embedding CPU time on one thread, the three interleaved over --rounds rounds, with the host's one-thread GEMM speed
before and after.
"""

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from evaluation import machine
from evaluation.excerpts import load_multitracks
from model.audio import rms_dbfs
from model.embed import Embedder
from model.multitrack import decode_song, discover
from model.predictor import MLPPredictor
from model.querypredictor import QueryPredictor
from model.validate import query_pairs

LEVELS_DBFS = (-57.0, -45.0, -33.0, -21.0, -9.0)  # between the fit levels (model.querypredictor.FIT_LEVELS_DBFS)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folders", nargs="*", type=Path, help="Folders of one song's stems (not in the units' corpus).")
    p.add_argument("--songs", type=Path, action="append", default=[], help="Multitrack songs (repeatable).")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    torch.set_num_threads(1)

    cut = Embedder.from_checkpoint(None, device="cpu")
    if cut.predictor_units is None:
        raise SystemExit("the checkpoint has no predictor-units sidecar: run `stemjepa predictor-units` first")
    model = cut.model
    own = model.predictor
    if not isinstance(own, MLPPredictor):
        raise SystemExit("the checkpoint's predictor is not an MLP: nothing to cut")
    folded = QueryPredictor(own, cut.vocabulary.names, None).eval()
    frozen = cut.query_predictor

    def predict(predictor: torch.nn.Module, mixes: list[np.ndarray], instrument: str) -> list:
        cut.query_predictor = predictor
        try:
            return cut.predict(mixes, [instrument] * len(mixes))
        finally:
            cut.query_predictor = frozen

    mixes = [song.mix(leave_out=name) for folder in args.folders
             for song in load_multitracks(folder, cut.sample_rate) for name in song.stems]
    songs = [(s.song_id, decode_song(s, cut.sample_rate)) for root in args.songs
             for s in discover(root, cut.vocabulary).songs]
    mixes += [pair.mix for pair in query_pairs(songs)]
    seconds = sum(len(m) for m in mixes) / cut.sample_rate
    print(f"{len(mixes)} mixes, {seconds:.0f} s of audio, each at RMS {LEVELS_DBFS} dBFS, per instrument")
    rows = []
    for name in cut.vocabulary.names:
        for level in LEVELS_DBFS:
            scaled = [m * np.float32(10 ** ((level - rms_dbfs(m)) / 20)) for m in mixes]
            ref = predict(own, scaled, name)
            row: dict = {"instrument": name, "level_dbfs": level}
            for label, predictor in (("folded", folded), ("cut", frozen)):
                got = predict(predictor, scaled, name)
                pairs = list(zip(ref, got, strict=True))
                row[label] = {
                    "vector_max_abs": max(float(np.abs(a.vector - b.vector).max()) for a, b in pairs),
                    "frames_max_abs": max(float(np.abs(a.frames - b.frames).max()) for a, b in pairs),
                    "frames_changed_1e-4": int(sum((np.abs(a.frames - b.frames).max(axis=1) > 1e-4).sum()
                                                   for a, b in pairs)),
                    "frames": int(sum(len(a.frames) for a in ref)),
                    "nearest_changed": int(_nearest_changed(ref, got)),
                }
            rows.append(row)
            print(f"{name:7s} {level:+5.0f} dBFS  folded: vector {row['folded']['vector_max_abs']:.1e} frames "
                  f"{row['folded']['frames_max_abs']:.1e}   cut: vector {row['cut']['vector_max_abs']:.1e} frames "
                  f"{row['cut']['frames_max_abs']:.1e} ({row['cut']['frames_changed_1e-4']} of "
                  f"{row['cut']['frames']} frames > 1e-4), nearest query changed {row['cut']['nearest_changed']}")

    ranks = _true_stem_ranks(cut, songs, own, frozen, predict)
    if ranks:
        print(f"the true stem's rank among the {ranks['references']} stems of --songs, {ranks['queries']} queries "
              f"at their own level: own mean {ranks['own_mean']:.2f}, cut mean {ranks['cut_mean']:.2f}, "
              f"{ranks['changed']} queries changed rank")

    wave = (np.random.default_rng(0).standard_normal(cut.sample_rate * 180) * 0.1).astype(np.float32)
    host_before = machine.gemm_gflops(torch.device("cpu"), 1024, 0.5)["gflops"]
    times: dict[str, list[float]] = {"own": [], "folded": [], "cut": []}
    predict(own, [wave], "bass")
    for _ in range(args.rounds):
        for label, predictor in (("own", own), ("folded", folded), ("cut", frozen)):
            c = time.process_time()
            predict(predictor, [wave], "bass")
            times[label].append((time.process_time() - c) * 1000)
    host_after = machine.gemm_gflops(torch.device("cpu"), 1024, 0.5)["gflops"]
    base = statistics.median(times["own"])
    print(f"3-minute query embedding, one thread, CPU ms over {args.rounds} interleaved rounds (host "
          f"{host_before:.0f} then {host_after:.0f} GFLOP/s):")
    for label, ms in times.items():
        print(f"  {label:7s} median {statistics.median(ms):6.1f}  ({', '.join(f'{t:.0f}' for t in ms)})  "
              f"{statistics.median(ms) / base:.2f}x")
    widths = {name: [len(k) for k in cut.predictor_units.kept(name)] for name in cut.vocabulary.names}
    print(f"hidden widths kept: {widths} (of {model.cfg.predictor.hidden})")
    if args.out:
        report = {"machine": machine.describe(torch.device("cpu")), "mixes": len(mixes), "seconds": seconds,
                  "units_data": cut.predictor_units.data, "widths": widths, "rows": rows, "cpu_ms": times,
                  "host_gflops": [host_before, host_after], "true_stem_ranks": ranks}
        args.out.write_text(json.dumps(report, indent=1))


def _true_stem_ranks(embedder: Embedder, songs: list, own: torch.nn.Module, cut: torch.nn.Module,
                     predict: Callable[[torch.nn.Module, list[np.ndarray], str], list]) -> dict[str, Any]:
    """Each --songs query's true stem: its rank (1 = first) among every stem of those songs by the query vector of
    the model's own predictor and of the cut one (the stems by the reference encoder, which the cut does not
    touch), as `stemjepa eval retrieval` ranks them."""
    pairs = query_pairs(songs)
    if not pairs:
        return {}
    refs = np.stack([e.vector for e in embedder.embed_stems([p.stem for p in pairs])])
    out: dict[str, list[int]] = {"own": [], "cut": []}
    for label, predictor in (("own", own), ("cut", cut)):
        for i, pair in enumerate(pairs):
            q = predict(predictor, [pair.mix], pair.instrument)[0].vector
            scores = refs @ q
            out[label].append(int((scores > scores[i]).sum()) + 1)
    changed = sum(a != b for a, b in zip(out["own"], out["cut"], strict=True))
    return {"queries": len(pairs), "references": len(refs), "own": out["own"], "cut": out["cut"], "changed": changed,
            "own_mean": float(np.mean(out["own"])), "cut_mean": float(np.mean(out["cut"]))}


def _nearest_changed(ref: list, got: list) -> int:
    """Queries whose most similar other query changes: a proxy for a changed ranking among real vectors."""
    a = np.stack([e.vector for e in ref])
    b = np.stack([e.vector for e in got])
    sa, sb = a @ a.T, b @ b.T
    np.fill_diagonal(sa, -np.inf)
    np.fill_diagonal(sb, -np.inf)
    return int((sa.argmax(axis=1) != sb.argmax(axis=1)).sum())


if __name__ == "__main__":
    main()
