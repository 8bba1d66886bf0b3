"""Stem-JEPA training: config, data, model, optimiser, loop (paper 3.1-3.3).

    python model/train.py --config tiny --data DIR [--data DIR2] --out runs/tiny --steps 50
    python model/train.py --out runs/tiny --resume          # continues exactly where the run stopped
    stemjepa train ...                                       # the same options (one parser)

Each step: forward (context encoder + predictor vs the no-grad target encoder), backward, EMA update of
the target encoder. Checkpoints describe themselves (configs, vocabulary, statistics, step) and carry the
optimiser, scheduler and RNG states for an exact resume.
"""

import sys
from pathlib import Path

if __name__ == "__main__" and __package__ in (None, ""):
    # Run as a script: put the repository root, not model/, first on the path.
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import json
import logging
import math
import random
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
import yaml
from torch.utils.data import DataLoader

from model.cache import CachedSong, build_cache
from model.checkpoint import build_model, load_checkpoint, run_config_of, save_checkpoint
from model.config import RunConfig, load_run_config, merge_config, named_configs, parse_override, to_dict
from model.dataset import PairDataset, StepSampler
from model.ema import ema_momentum, ema_update
from model.embed import Embedder, resolve_device
from model.instruments import InstrumentVocabulary
from model.jepa import StemJEPA
from model.melspec import NormStats, RunningStats
from model.validate import build_retrieval_set, retrieval_metrics

log = logging.getLogger("stemjepa.train")

LATEST = "checkpoint.pt"
BEST = "best.pt"


def lr_at(step: int, cfg: Any) -> float:
    """Linear warm-up to cfg.lr, then cosine annealing to cfg.min_lr at cfg.steps."""
    if step < cfg.warmup_steps:
        return float(cfg.lr * (step + 1) / cfg.warmup_steps)
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return float(cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * min(progress, 1.0))))


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """No weight decay on biases and norm gains (1-D parameters)."""
    decay: list[torch.nn.Parameter] = []
    no_decay: list[torch.nn.Parameter] = []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def compute_stats(dataset: PairDataset, chunks: int, run: RunConfig, seed: int = 12345) -> NormStats:
    """Dataset statistics of log-mel values over `chunks` random context and target chunks."""
    model = StemJEPA(run.model)
    stats = RunningStats()
    with torch.no_grad():
        for i in range(chunks):
            ctx, tgt, _, _ = dataset[seed * 1_000_003 + i]
            stats.update(model.logmel(torch.stack([ctx, tgt])))
    return stats.result()


def load_validation(root: Path, embedder: Embedder) -> list[tuple[str, dict[str, np.ndarray]]]:
    """Decodes a held-out multitrack folder once: (song id, {instrument: mono wave}).

    Raises:
        ReservedDataError: the folder holds songs of the fixed evaluation set, which may not choose checkpoints.
    """
    from model.multitrack import decode_song, discover, refuse_evaluation_songs

    found = discover(root, embedder.vocabulary).songs
    refuse_evaluation_songs(found, "checkpoint validation")
    return [(song.song_id, decode_song(song, embedder.sample_rate)) for song in found]


def validate(model: StemJEPA, songs: list[tuple[str, dict[str, np.ndarray]]], device: torch.device) -> dict[str, Any]:
    embedder = Embedder(model, device)
    try:
        return retrieval_metrics(build_retrieval_set(embedder, songs))
    finally:
        model.train()


def selection_score(metrics: dict[str, Any]) -> float:
    """The order that chooses best.pt from a selection set's retrieval metrics: protocol A R@1, then B R@1,
    then the lower mean normalised rank."""
    a, b = metrics["A"], metrics["B"]
    return float(a["R@1"] * 1e4 + b["R@1"] * 10 - a["mean_norm_rank"] / 100)


class Trainer:
    def __init__(self, run: RunConfig, songs: list[CachedSong], out: Path, device: torch.device,
                 stats: NormStats, validation: list[tuple[str, dict[str, np.ndarray]]] | None = None,
                 monitors: dict[str, list[tuple[str, dict[str, np.ndarray]]]] | None = None) -> None:
        self.run, self.out, self.device = run, out, device
        tc = run.train
        torch.manual_seed(tc.seed)
        self.model = StemJEPA(run.model, stats).to(device)
        self.params = [*self.model.context_encoder.parameters(), *self.model.predictor.parameters()]
        online = torch.nn.ModuleList([self.model.context_encoder, self.model.predictor])
        self.opt = torch.optim.AdamW(param_groups(online, tc.weight_decay), lr=tc.lr, betas=(0.9, 0.95))
        self.dataset = PairDataset(songs, run.model.audio.chunk_samples, tc.seed, tc.silence_dbfs,
                                   tc.gain_jitter_db, tc.max_resample)
        self.validation = validation
        self.monitors = monitors or {}
        self.step = 0
        self.best: float | None = None
        self.validation_seconds, self.validations = 0.0, 0  # time spent validating (fit_in_time's estimate)
        self.forward = self.model
        if device.type == "cuda" and tc.compile:
            self.forward = torch.compile(self.model)  # type: ignore[assignment]

    # ---- checkpoints ------------------------------------------------------------------------
    def training_state(self) -> dict[str, Any]:
        return {
            "optimizer": self.opt.state_dict(), "best": self.best,
            "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None},
        }

    def restore(self, ckpt: dict[str, Any]) -> None:
        self.model.load_state_dict(ckpt["model"])
        state = ckpt["training_state"]
        self.opt.load_state_dict(state["optimizer"])
        self.best = state.get("best")
        torch.set_rng_state(state["rng"]["torch"])
        np.random.set_state(state["rng"]["numpy"])
        random.setstate(state["rng"]["python"])
        if state["rng"].get("cuda") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        self.step = int(ckpt["step"])

    def save(self, name: str, metrics: dict[str, Any] | None = None) -> None:
        save_checkpoint(self.out / name, self.model, self.run, self.step, self.training_state(), metrics)

    # ---- loop --------------------------------------------------------------------------------
    def loader(self, start: int, end: int) -> DataLoader:
        tc = self.run.train
        return DataLoader(self.dataset, batch_size=tc.batch_size, sampler=StepSampler(start * tc.batch_size,
                          end * tc.batch_size), num_workers=tc.num_workers, pin_memory=self.device.type == "cuda",
                          persistent_workers=False, prefetch_factor=4 if tc.num_workers else None)

    def train_step(self, ctx: torch.Tensor, tgt: torch.Tensor, inst: torch.Tensor,
                   song: torch.Tensor) -> dict[str, float]:
        tc = self.run.train
        lr = lr_at(self.step, tc)
        for group in self.opt.param_groups:
            group["lr"] = lr
        autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.device.type == "cuda")
        with autocast:
            jepa, nce = self.forward(ctx, tgt, inst, song if tc.contrastive_weight else None,
                                     tc.contrastive_temperature, tc.contrastive_keys == "online")
            loss = jepa + tc.contrastive_weight * nce
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = float(torch.nn.utils.clip_grad_norm_(self.params, tc.grad_clip))
        self.opt.step()
        momentum = ema_momentum(self.step, tc.steps, tc.ema_start, tc.ema_end)
        ema_update(self.model.target_encoder, self.model.context_encoder, momentum)
        out = {"loss": float(loss.detach()), "jepa_loss": float(jepa.detach()), "lr": lr, "ema": momentum,
               "grad_norm": grad_norm}
        if tc.contrastive_weight:
            out["nce_loss"] = float(nce.detach())
        return out

    def fit(self, end_step: int, final: bool = True) -> list[float]:
        """Trains to `end_step`; `final`: validate and save at the end even off the validation period."""
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        tc = self.run.train
        losses: list[float] = []
        metrics_file = (self.out / "metrics.jsonl").open("a")
        t0, seen = time.perf_counter(), 0
        columns = (TextColumn("[bold]train"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                   TextColumn("loss {task.fields[loss]:.4f}"), TimeRemainingColumn())
        with Progress(*columns, transient=True) as bar:
            task = bar.add_task("train", total=end_step, completed=self.step, loss=float("nan"))
            for ctx, tgt, inst, song in self.loader(self.step, end_step):
                ctx, tgt, inst, song = (x.to(self.device, non_blocking=True) for x in (ctx, tgt, inst, song))
                stats = self.train_step(ctx, tgt, inst, song)
                loss = stats["loss"]
                self.step += 1
                seen += ctx.shape[0]
                losses.append(loss)
                bar.update(task, completed=self.step, loss=loss)
                record: dict[str, Any] = {"step": self.step, **stats}
                if self.step % tc.log_every == 0 or self.step == end_step:
                    rate = seen / (time.perf_counter() - t0)
                    record["samples_per_s"] = rate
                    log.info("step %d  loss %.4f%s  lr %.2e  ema %.5f  grad %.3f  %.1f samples/s",
                             self.step, loss, f" (nce {stats['nce_loss']:.3f})" if "nce_loss" in stats else "",
                             stats["lr"], stats["ema"], stats["grad_norm"], rate)
                if self.validation and tc.validate_every and self.step % tc.validate_every == 0:
                    record["val"] = self.validate_and_keep_best()
                metrics_file.write(json.dumps(record) + "\n")
                metrics_file.flush()
                if self.step % tc.checkpoint_every == 0 or self.step == end_step:
                    self.save(LATEST)
        if final and self.validation and (not tc.validate_every or self.step % tc.validate_every):
            val = self.validate_and_keep_best()
            metrics_file.write(json.dumps({"step": self.step, "val": val}) + "\n")
            self.save(LATEST)
        metrics_file.close()
        return losses

    def fit_in_time(self, seconds: float, max_steps: int) -> int:
        """Trains for about `seconds` of wall clock: the warm-up steps are timed (loader start included, so
        the estimate errs short) and so is a validation, then the schedule's length is set to the steps that
        fit with their periodic validations, at most `max_steps`, and the run goes on to it. The warm-up's
        learning rate does not depend on the length; only its EMA ramp was computed against `max_steps`.
        Returns the schedule's length."""
        tc = self.run.train
        t0 = time.perf_counter()
        probe = min(max(1, tc.warmup_steps), max_steps)
        self.fit(probe, final=False)
        if self.validation and not self.validation_seconds:
            with (self.out / "metrics.jsonl").open("a") as f:
                f.write(json.dumps({"step": self.step, "val": self.validate_and_keep_best()}) + "\n")
        elapsed = time.perf_counter() - t0
        per_step = (elapsed - self.validation_seconds) / probe
        validation = self.validation_seconds / max(1, self.validations) if self.validation else 0.0
        per_step_all = per_step + (validation / tc.validate_every if tc.validate_every else 0.0)
        left = seconds - elapsed - validation  # the last validation comes after the last step
        steps = min(max_steps, probe + int(0.95 * max(0.0, left) / per_step_all))
        self.run = replace(self.run, train=replace(tc, steps=steps))
        (self.out / "config.yaml").write_text(yaml.safe_dump(to_dict(self.run), sort_keys=False))
        log.info("%.3f s per step and %.1f s per validation over the %d warm-up steps: the schedule is %d steps "
                 "to fit %.0f s", per_step, validation, probe, steps, seconds)
        self.fit(steps)
        return steps

    def validate_and_keep_best(self) -> dict[str, Any]:
        """Scores the selection set (keeps the best checkpoint by it) and the monitor sets (reported only)."""
        assert self.validation is not None
        started = time.perf_counter()
        metrics = validate(self.model, self.validation, self.device)
        a, b = metrics["A"], metrics["B"]
        log.info("validation step %d: A R@1 %.1f R@5 %.1f mean-rank %.1f%% | B R@1 %.1f", self.step,
                 a["R@1"], a["R@5"], a["mean_norm_rank"], b["R@1"])
        result: dict[str, Any] = {"selection": metrics}
        for name, songs in self.monitors.items():
            result[name] = m = validate(self.model, songs, self.device)
            log.info("  monitor %s: A R@1 %.1f R@5 %.1f mean-rank %.1f%% | B R@1 %.1f", name, m["A"]["R@1"],
                     m["A"]["R@5"], m["A"]["mean_norm_rank"], m["B"]["R@1"])
        score = selection_score(metrics)
        if self.best is None or score > self.best:
            self.best = score
            self.save(BEST, {"validation": result})
        self.validation_seconds += time.perf_counter() - started
        self.validations += 1
        return result


@dataclass(frozen=True)
class TrainArgs:
    """What one training run is asked to do: the options of `python model/train.py` and `stemjepa train`,
    which both parse them with `argument_parser`, so the two cannot drift apart."""

    out: Path
    config: str | None = None  # a run YAML, or a named config (model.config.named_configs)
    data: tuple[Path, ...] = ()
    steps: int | None = None
    stop_at: int | None = None
    resume: bool = False
    init: Path | None = None
    validate: Path | None = None
    monitor: tuple[Path, ...] = ()
    stats: Path | None = None
    cache_dir: Path = Path(".cache/stemjepa")
    device: str = "auto"
    overrides: tuple[str, ...] = ()
    minutes: float | None = None


def argument_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The one definition of the training options (each a TrainArgs field)."""
    p = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help=f"run YAML, or a named config ({', '.join(named_configs())})")
    p.add_argument("--data", type=Path, action="append", default=[], help="multitrack folder/manifest; repeatable")
    p.add_argument("--out", type=Path, required=True, help="run folder: checkpoints, resolved config, metrics")
    p.add_argument("--steps", type=int, help="schedule length in steps (overrides train.steps; on --resume it "
                   "extends the schedule, which changes the learning-rate curve from there on)")
    p.add_argument("--stop-at", type=int, help="stop at this step, keeping the schedule (split a run over sessions)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--init", type=Path, help="start from this checkpoint's weights (same model config) with a "
                   "fresh optimiser and schedule: a second training phase, e.g. with another loss")
    p.add_argument("--validate", type=Path, help="held-out multitrack folder: retrieval R@1 picks best.pt")
    p.add_argument("--monitor", type=Path, action="append", default=[],
                   help="further held-out folders whose R@1 is logged but never used to choose; repeatable")
    p.add_argument("--stats", type=Path, help="JSON from `stemjepa stats`; computed from the data if absent")
    p.add_argument("--cache-dir", type=Path, default=Path(".cache/stemjepa"), help="decoded-song cache")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--minutes", type=float, help="train for about this many minutes of wall clock: the schedule's "
                   "length is fitted to the speed measured over the warm-up steps (train.steps is the maximum)")
    p.add_argument("--set", dest="overrides", action="append", default=[], help="override, e.g. train.lr=1e-3")
    return p


def parse_args(argv: list[str] | None = None, prog: str | None = None) -> TrainArgs:
    ns = argument_parser(prog).parse_args(argv)
    fields = {**vars(ns), "data": tuple(ns.data), "monitor": tuple(ns.monitor), "overrides": tuple(ns.overrides)}
    return TrainArgs(**fields)


def main(argv: list[str] | None = None, prog: str | None = None) -> None:
    """`python model/train.py ARGS` and `stemjepa train ARGS`."""
    run_training(parse_args(argv, prog))


def _resolved_run(args: TrainArgs, ckpt: dict[str, Any] | None) -> tuple[RunConfig, TrainArgs]:
    """The run config (the checkpoint's on --resume, else the YAML with overrides and --steps) and the
    arguments with what --resume takes from the run folder filled in."""
    if ckpt is not None:
        run = run_config_of(ckpt)
        saved = json.loads((args.out / "run.json").read_text())
        args = replace(args, data=args.data or tuple(Path(d) for d in saved["data"]),
                       validate=args.validate or (Path(saved["validate"]) if saved.get("validate") else None),
                       monitor=args.monitor or tuple(Path(m) for m in saved.get("monitor", [])))
    else:
        over: dict[str, Any] = {}
        for text in args.overrides:
            over = merge_config(over, parse_override(text))
        run = load_run_config(args.config, over)
    if args.steps is not None:
        run = replace(run, train=replace(run.train, steps=args.steps))
    return run, args


def _norm_stats(args: TrainArgs, ckpt: dict[str, Any] | None, init_ckpt: dict[str, Any] | None,
                songs: list[CachedSong], run: RunConfig) -> NormStats:
    """The resumed run's, the initial weights', the --stats file's, or measured on the data."""
    if ckpt is not None:
        return NormStats(**ckpt["norm_stats"])
    if init_ckpt is not None:
        return NormStats(**init_ckpt["norm_stats"])
    if args.stats is not None:
        return NormStats(**json.loads(args.stats.read_text()))
    probe = PairDataset(songs, run.model.audio.chunk_samples, run.train.seed, run.train.silence_dbfs)
    stats = compute_stats(probe, min(256, 16 * len(songs)), run)
    log.info("normalisation statistics from the data: mean %.3f std %.3f", stats.mean, stats.std)
    return stats


def run_training(args: TrainArgs) -> Trainer:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    args.out.mkdir(parents=True, exist_ok=True)
    ckpt = load_checkpoint(args.out / LATEST) if args.resume else None
    run, args = _resolved_run(args, ckpt)
    if not args.data:
        raise SystemExit("no --data given")
    device = resolve_device(args.device)
    vocab = InstrumentVocabulary.from_names(run.model.instruments)
    songs = build_cache(list(args.data), args.cache_dir, vocab, run.model.audio.sample_rate)
    (args.out / "config.yaml").write_text(yaml.safe_dump(to_dict(run), sort_keys=False))
    (args.out / "run.json").write_text(json.dumps({"data": [str(d) for d in args.data],
                                                   "validate": str(args.validate) if args.validate else None,
                                                   "monitor": [str(m) for m in args.monitor],
                                                   "init": str(args.init) if args.init else None}))
    init_ckpt = load_checkpoint(args.init) if args.init is not None and ckpt is None else None
    if init_ckpt is not None and run_config_of(init_ckpt).model != run.model:
        raise SystemExit(f"--init {args.init}: its model config differs from this run's; phases must share the model")
    stats = _norm_stats(args, ckpt, init_ckpt, songs, run)
    probe_embedder = Embedder(StemJEPA(run.model), "cpu")
    validation = load_validation(args.validate, probe_embedder) if args.validate is not None else None
    monitors = {Path(m).name: load_validation(Path(m), probe_embedder) for m in args.monitor}
    trainer = Trainer(run, songs, args.out, device, stats, validation, monitors)
    if ckpt is not None:
        trainer.restore(ckpt)
        log.info("resumed at step %d", trainer.step)
    elif init_ckpt is not None:
        trainer.model.load_state_dict(build_model(init_ckpt).state_dict())
        log.info("initialised from %s (its step %s); optimiser and schedule start afresh", args.init,
                 init_ckpt.get("step"))
    if args.minutes is not None:
        if ckpt is not None or args.stop_at is not None:
            raise SystemExit("--minutes fits a new run's schedule; it cannot be combined with --resume or --stop-at")
        trainer.fit_in_time(args.minutes * 60, run.train.steps)
        return trainer
    end = min(args.stop_at, run.train.steps) if args.stop_at is not None else run.train.steps
    if trainer.step >= end:
        log.info("nothing to do: the run is at step %d of %d", trainer.step, end)
        return trainer
    trainer.fit(end)
    return trainer


if __name__ == "__main__":
    main()
