"""Training throughput (samples/s) of the model sizes on this machine: full JEPA steps (context encoder +
predictor forward/backward, target encoder forward, AdamW, EMA) on random 8 s waveforms, after warm-up.

    .venv/bin/python scripts/bench_train.py --sizes tiny compact small --batch 16 --steps 5
"""

import argparse
import platform
import time

import torch

from model.config import load_run_config
from model.ema import ema_update
from model.jepa import StemJEPA
from model.vit import count_parameters


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", nargs="+", default=["tiny", "compact", "small"])
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=5)
    args = p.parse_args()
    print(f"# {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}")
    print("| size | encoder params (M) | samples/s |\n|---|---|---|")
    for size in args.sizes:
        run = load_run_config(f"configs/train/{size}.yaml")
        torch.manual_seed(0)
        model = StemJEPA(run.model)
        online = [*model.context_encoder.parameters(), *model.predictor.parameters()]
        opt = torch.optim.AdamW(online, lr=1e-4)
        wave = torch.randn(args.batch, run.model.audio.chunk_samples) * 0.1
        inst = torch.randint(0, len(run.model.instruments), (args.batch,))
        t0 = 0.0
        for step in range(args.steps + 1):
            if step == 1:  # the first step is warm-up (allocations, kernel selection)
                t0 = time.perf_counter()
            loss = model(wave, wave.flip(0), inst)
            opt.zero_grad()
            loss.backward()
            opt.step()
            ema_update(model.target_encoder, model.context_encoder, 0.99)
        rate = args.batch * args.steps / (time.perf_counter() - t0)
        print(f"| {size} | {count_parameters(model.context_encoder) / 1e6:.2f} | {rate:.1f} |")


if __name__ == "__main__":
    main()
