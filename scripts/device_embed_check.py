"""GPU inference check: does a catalogue embedded on a GPU match queries embedded on a CPU?

    python3 scripts/device_embed_check.py --pack .devpack --out "$OUT"

The service answers queries on CPUs while the indexer may embed the catalogue on a GPU, so stems and queries
can come from different arithmetic. This embeds the same real stems and queries (the pack's training songs:
MUSDB train fit songs and synthetic songs, scripts/device_pack.py) with the shipped checkpoint on the CPU in
float32 (the reference) and on the GPU in each `model.embed.PRECISIONS`, and reports, per precision:
  - stem vectors: cosine with the CPU's (min, median); frames: relative error (median, max);
  - retrieval: each query (CPU float32, as the service computes it) ranked against the instrument's stems
    embedded on the CPU and on the GPU: how often the true stem's rank is unchanged, the mean change;
  - alignment: the model-curve offset of each stem against its own song's query (analysis.alignment), the
    share equal to the CPU's within one frame;
  - speed: stems of 3 minutes through the target encoder, audio seconds per second, at several windows per
    pass, against the machine's CPU cores in float32.
Writes embed_check.json under --out and prints the table. Needs no PyAV, FAISS or database.
"""

import sys
from pathlib import Path

if __name__ == "__main__" and __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import json
import os
import time
from typing import Any

import numpy as np
import torch

from analysis.alignment import align_frames
from evaluation.machine import time_call
from model.checkpoint import default_checkpoint_path
from model.embed import PRECISIONS, Embedder, Embedding
from model.instruments import InstrumentVocabulary
from model.multitrack import decode_song, discover

MIN_OVERLAP_SECONDS = 4.0


def load_songs(pack: Path, synth_songs: int) -> list[tuple[str, dict[str, np.ndarray]]]:
    vocab = InstrumentVocabulary()
    songs = discover(pack / "musdb-fit", vocab).songs + discover(pack / "synth", vocab).songs[:synth_songs]
    return [(s.song_id, decode_song(s, 16_000)) for s in songs]


def cases(songs: list[tuple[str, dict[str, np.ndarray]]]) -> tuple[list[tuple[int, str]], list[np.ndarray],
                                                                      list[np.ndarray]]:
    """(song number, instrument) of every stem with at least one other stem, its wave, and its query mix."""
    keys, stems, mixes = [], [], []
    for n, (_, waves) in enumerate(songs):
        for inst, wave in waves.items():
            others = [w for i, w in waves.items() if i != inst]
            if not others:
                continue
            length = max(len(w) for w in waves.values())
            mix = np.zeros(length, np.float32)
            for w in others:
                mix[: len(w)] += w
            keys.append((n, inst))
            stems.append(wave)
            mixes.append(mix)
    return keys, stems, mixes


def ranks(queries: list[Embedding], gallery: list[Embedding], keys: list[tuple[int, str]]) -> np.ndarray:
    """Rank (0 = first) of each query's own stem among the stems of its instrument."""
    out = np.zeros(len(keys), np.int64)
    vectors = np.stack([g.vector for g in gallery])
    for q, (_, inst) in enumerate(keys):
        pool = [i for i, k in enumerate(keys) if k[1] == inst]
        scores = vectors[pool] @ queries[q].vector
        own = scores[pool.index(q)]
        out[q] = int(np.sum(scores > own))
    return out


def offsets(queries: list[Embedding], stems: list[Embedding], frame_seconds: float) -> np.ndarray:
    return np.array([align_frames(q.frames, s.frames, frame_seconds, MIN_OVERLAP_SECONDS).offset_seconds
                     for q, s in zip(queries, stems, strict=True)])


def speed(embedder: Embedder, stems: list[np.ndarray], rounds: int = 3) -> float:
    """Audio seconds per wall second through the reference encoder: the mean of `rounds` calls after a
    warm-up (evaluation.machine.time_call, with CUDA events on a GPU)."""
    seconds, _ = time_call(lambda: embedder.embed_stems(stems), embedder.device, min_seconds=0.0, max_iters=rounds)
    return sum(len(s) for s in stems) / 16_000 / seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pack", type=Path, default=Path(".devpack"))
    p.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "runs/device")))
    p.add_argument("--checkpoint", type=Path, default=default_checkpoint_path())
    p.add_argument("--synth-songs", type=int, default=40)
    p.add_argument("--speed-stems", type=int, default=32, help="3-minute stems timed per setting")
    p.add_argument("--device", default="cuda")
    args = p.parse_args()
    t0 = time.perf_counter()
    songs = load_songs(args.pack, args.synth_songs)
    keys, stems, mixes = cases(songs)
    print(f"{len(songs)} songs, {len(keys)} stems and queries, decoded in {time.perf_counter() - t0:.0f} s",
          flush=True)
    cpu = Embedder.from_checkpoint(args.checkpoint, "cpu")
    fs = cpu.frame_seconds
    ref_stems = cpu.embed_stems(stems)
    ref_queries = cpu.predict(mixes, [k[1] for k in keys])
    ref_ranks = ranks(ref_queries, ref_stems, keys)
    ref_offsets = offsets(ref_queries, ref_stems, fs)
    report: dict[str, object] = {"device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
                                 "torch": torch.__version__, "cpu_threads": torch.get_num_threads(),
                                 "stems": len(keys), "checkpoint": args.checkpoint.name,
                                 "cpu_reference": {"mean_rank": float(ref_ranks.mean()),
                                                   "top1": float(np.mean(ref_ranks == 0))}}
    long_stems = [np.tile(s, -(-180 * 16_000 // len(s)))[: 180 * 16_000] for s in stems[: args.speed_stems]]
    report["cpu_speed_audio_s_per_s"] = round(speed(Embedder.from_checkpoint(args.checkpoint, "cpu"),
                                                    long_stems[:8], rounds=1), 1)
    results: dict[str, dict[str, Any]] = {}
    for precision in PRECISIONS:
        gpu = Embedder.from_checkpoint(args.checkpoint, args.device, precision=precision)
        g_stems = gpu.embed_stems(stems)
        g_queries = gpu.predict(mixes, [k[1] for k in keys])
        cos = np.array([float(a.vector @ b.vector) for a, b in zip(g_stems, ref_stems, strict=True)])
        ferr = np.array([np.linalg.norm(a.frames - b.frames) / np.linalg.norm(b.frames)
                         for a, b in zip(g_stems, ref_stems, strict=True)])
        qcos = np.array([float(a.vector @ b.vector) for a, b in zip(g_queries, ref_queries, strict=True)])
        mixed = ranks(ref_queries, g_stems, keys)  # CPU queries against a GPU-built catalogue
        off = offsets(ref_queries, g_stems, fs)
        speeds = {}
        for windows in (16, 64, 256):
            gpu.batch_size = windows
            speeds[str(windows)] = round(speed(gpu, long_stems), 1)
        results[precision] = {
            "stem_cos_min": float(cos.min()), "stem_cos_median": float(np.median(cos)),
            "query_cos_min": float(qcos.min()),
            "frames_rel_err_median": float(np.median(ferr)), "frames_rel_err_max": float(ferr.max()),
            "rank_unchanged": float(np.mean(mixed == ref_ranks)),
            "mean_rank_change": float(np.mean(mixed - ref_ranks)),
            "top1_cpu_catalogue": float(np.mean(ref_ranks == 0)), "top1_gpu_catalogue": float(np.mean(mixed == 0)),
            "offsets_within_one_frame": float(np.mean(np.abs(off - ref_offsets) <= fs + 1e-6)),
            "speed_audio_s_per_s_by_windows_per_pass": speeds,
        }
        print(precision, json.dumps(results[precision]), flush=True)
    report["gpu"] = results
    report["seconds"] = round(time.perf_counter() - t0, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "embed_check.json").write_text(json.dumps(report, indent=1))
    print(f"\n{'precision':9s} {'stem cos min':>12s} {'frames err med':>14s} {'rank same':>9s} "
          f"{'offset same':>11s} {'audio-s/s (16/64/256 windows)':>30s}")
    for name, r in results.items():
        sp = r["speed_audio_s_per_s_by_windows_per_pass"]
        print(f"{name:9s} {r['stem_cos_min']:12.6f} {r['frames_rel_err_median']:14.2e} {r['rank_unchanged']:9.3f} "
              f"{r['offsets_within_one_frame']:11.3f} {' / '.join(str(v) for v in sp.values()):>30s}")
    print(f"CPU float32 ({report['cpu_threads']} threads): {report['cpu_speed_audio_s_per_s']} audio-s/s; "
          f"{report['seconds']} s in all")


if __name__ == "__main__":
    main()
