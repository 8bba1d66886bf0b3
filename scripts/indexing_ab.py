"""Indexing throughput of two checkouts side by side: the same catalogue of 3-minute 44.1 kHz stereo FLAC
stems indexed end to end (`indexer.build.build_index` with the default settings: decode workers, one
intra-op thread, SQLite) by this checkout and by a baseline checkout (e.g. `git worktree add /work/base
3194227`), runs interleaved A B A B, each job in a fresh process and a fresh index.

Reports per run the wall time, audio seconds per wall second, and the CPU seconds of the job process
(embedding) and of its decode workers; and, measured in the same run, the bound the model sets: a large
single-thread fp32 matmul's GFLOP/s, the encoder's FLOP per audio second, hence the audio seconds per second
that `cores` dedicated cores would reach if embedding were all there is.

    .venv/bin/python scripts/indexing_ab.py --base /work/base --source ../shared/data/extra/trackswitch-demo

The stems are tiled from the source's audio files (rolled by a different start for each stem), written as
16-bit FLAC, the usual catalogue format; nothing is written into the repository.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

JOB = r"""
import json, resource, sys, time
from pathlib import Path

def main():
    from indexer.build import build_index
    from indexer.db import upgrade
    from indexer.settings import load_settings
    from model.embed import Embedder

    catalogue, index, workers = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    settings = load_settings(index_dir=index / "index", db_url=f"sqlite:///{index / 'c.sqlite'}", workers=workers)
    # Checkouts before the threads setting (53cbbde) left torch's own thread count, as their CLI did. (Not an
    # ImportError test: the editable install would find model.threads in the main checkout.)
    if "threads" in type(settings).model_fields:
        from model.threads import limit_threads

        limit_threads(settings.threads)
    upgrade(settings.database_url)
    embedder = Embedder.from_checkpoint(device="cpu")
    c0, t0 = time.process_time(), time.perf_counter()
    report = build_index(catalogue, settings, embedder=embedder)
    wall = time.perf_counter() - t0
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"stems": report.added, "audio_s": report.audio_seconds, "wall_s": wall,
                      "job_cpu_s": time.process_time() - c0, "workers_cpu_s": children.ru_utime + children.ru_stime}))

if __name__ == "__main__":
    main()
"""


def write_catalogue(root: Path, source: Path, stems: int, seconds: float, rate: int = 44_100) -> float:
    """`stems` FLAC files of `seconds` at `rate`, stereo, one per source file in each song folder, tiled from
    the audio files of `source`; returns the audio seconds written."""
    import soundfile as sf

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from evaluation.scalecat import tiled_stereo
    from model.audio import load_mono

    files = sorted(p for p in source.iterdir() if p.suffix.lower() in {".mp3", ".flac", ".wav", ".ogg"})
    if not files:
        raise SystemExit(f"no audio files in {source}")
    waves = [load_mono(f, rate) for f in files]
    n = round(seconds * rate)
    for i in range(stems):
        wave = waves[i % len(waves)]
        start = (i // len(waves)) * 20 * rate % len(wave)
        folder = root / f"song{i // len(files):03d}"  # named as its source, which names the instrument
        folder.mkdir(parents=True, exist_ok=True)
        sf.write(folder / f"{files[i % len(files)].stem}.flac", tiled_stereo(wave, n, start), rate, subtype="PCM_16")
    return stems * seconds


def gemm_gflops(n: int = 2048, seconds: float = 2.0) -> float:
    """Single-thread fp32 matmul GFLOP/s (the best of repeated n x n products for `seconds`)."""
    import torch

    torch.set_num_threads(1)
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best, end = np.inf, time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def encoder_flop_per_audio_second() -> float:
    """FLOP of the shipped encoder (plus its patch embedding) per second of audio."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from model.checkpoint import build_model, default_checkpoint_path, load_checkpoint
    from model.vit import encoder_flops

    cfg = build_model(load_checkpoint(default_checkpoint_path())).cfg
    rows, cols = cfg.encoder.grid(cfg.audio)
    return encoder_flops(cfg.encoder, rows * cols) / cfg.audio.chunk_seconds


def run_job(checkout: Path, catalogue: Path, workers: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as index:
        env = {**os.environ, "PYTHONPATH": str(checkout)}
        out = subprocess.run([sys.executable, "-c", JOB, str(catalogue), index, str(workers)], cwd=checkout, env=env,
                             capture_output=True, text=True, check=False)
        if out.returncode != 0 or '"stems": 0,' in out.stdout:
            raise SystemExit(f"indexing job in {checkout} failed:\n{out.stderr[-3000:]}")
        return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    here = Path(__file__).resolve().parents[1]
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", type=Path, required=True, help="The baseline checkout.")
    p.add_argument("--source", type=Path, default=here.parent / "shared/data/extra/trackswitch-demo")
    p.add_argument("--stems", type=int, default=16)
    p.add_argument("--seconds", type=float, default=180.0)
    p.add_argument("--runs", type=int, default=2, help="Runs of each checkout, interleaved.")
    p.add_argument("--workers", type=int, default=2, help="Decode workers (the indexer's default: 2).")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        catalogue = Path(tmp) / "catalogue"
        audio = write_catalogue(catalogue, args.source, args.stems, args.seconds)
        print(f"{args.stems} stems x {args.seconds:.0f} s ({audio / 3600:.2f} h), 44.1 kHz stereo 16-bit FLAC; "
              f"{cores} cores; load average {os.getloadavg()[0]:.2f}")
        checkouts = {"base": args.base.resolve(), "this": here}
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in checkouts}
        for r in range(args.runs):
            for name in list(checkouts) if r % 2 == 0 else list(checkouts)[::-1]:
                got = run_job(checkouts[name], catalogue, args.workers)
                got["audio_s_per_s"] = got["audio_s"] / got["wall_s"]
                got["load"] = os.getloadavg()[0]
                runs[name].append(got)
                print(f"  {name}: {got['audio_s_per_s']:.1f} audio-s/s (wall {got['wall_s']:.1f} s, job CPU "
                      f"{got['job_cpu_s']:.1f} s, workers CPU {got['workers_cpu_s']:.1f} s, load {got['load']:.2f})")
    gemm = gemm_gflops()
    flop = encoder_flop_per_audio_second()
    bound = cores * gemm * 1e9 / flop
    med = {n: float(np.median([g["audio_s_per_s"] for g in rs])) for n, rs in runs.items()}
    cpu = {n: float(np.median([(g["job_cpu_s"] + g["workers_cpu_s"]) / g["audio_s"] for g in rs]))
           for n, rs in runs.items()}
    print("\n| checkout | audio-s per wall-s (median) | CPU-s per audio-hour | share of the matmul bound |")
    print("|---|---|---|---|")
    for n in checkouts:
        print(f"| {n} ({checkouts[n]}) | {med[n]:.1f} | {cpu[n] * 3600:.0f} | {med[n] / bound:.2f} |")
    print(f"\nthis / base: {med['this'] / med['base']:.2f}x. Bound: {cores} cores x {gemm:.1f} GFLOP/s (2048^3 fp32 "
          f"matmul, one thread) / {flop / 1e6:.1f} MFLOP per audio second (encoder) = {bound:.0f} audio-s/s.")
    if args.json:
        args.json.write_text(json.dumps({"runs": runs, "gemm_gflops": gemm, "encoder_flop_per_audio_s": flop,
                                         "bound_audio_s_per_s": bound, "cores": cores}, indent=1))


if __name__ == "__main__":
    main()
