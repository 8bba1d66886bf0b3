import json
from pathlib import Path

import numpy as np
import pytest
import torch

from model.checkpoint import load_checkpoint
from model.embed import Embedder
from model.train import LATEST, TrainArgs, lr_at, run_training
from tests.conftest import MUSDB_TRAIN, REPO, require

TINY = "tiny"


def _losses(run_dir):
    return [r["loss"] for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines()) if "loss" in r]


def test_resume_continues_with_the_same_loss_curve(tmp_path, multitrack_dir):
    common = dict(config=TINY, data=(multitrack_dir,), steps=12, cache_dir=tmp_path / "cache", device="cpu",
                  overrides=("train.batch_size=4",))
    run_training(TrainArgs(out=tmp_path / "whole", **common))
    run_training(TrainArgs(out=tmp_path / "split", stop_at=6, **common))
    assert load_checkpoint(tmp_path / "split" / LATEST)["step"] == 6
    run_training(TrainArgs(tmp_path / "split", resume=True, cache_dir=tmp_path / "cache", device="cpu"))
    whole, split = _losses(tmp_path / "whole"), _losses(tmp_path / "split")
    assert len(whole) == len(split) == 12
    np.testing.assert_allclose(split, whole, rtol=1e-5, atol=1e-6)
    a = load_checkpoint(tmp_path / "whole" / LATEST)["model"]
    b = load_checkpoint(tmp_path / "split" / LATEST)["model"]
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-5), k


def test_second_phase_starts_from_init_weights_and_logs_the_contrastive_term(tmp_path, multitrack_dir):
    common = dict(config=TINY, data=(multitrack_dir,), cache_dir=tmp_path / "cache", device="cpu")
    run_training(TrainArgs(out=tmp_path / "phase1", steps=4, overrides=("train.batch_size=4",), **common))
    first = load_checkpoint(tmp_path / "phase1" / LATEST)
    phase2 = ("train.batch_size=4", "train.contrastive_weight=1.0", "train.lr=5e-4")
    trainer = run_training(TrainArgs(out=tmp_path / "phase2", steps=3, init=tmp_path / "phase1" / LATEST,
                                     overrides=phase2, stop_at=0, **common))
    # before any step the model is exactly phase 1's, with a fresh schedule
    assert trainer.step == 0
    for k, v in first["model"].items():
        assert torch.equal(trainer.model.state_dict()[k], v.float()), k
    run_training(TrainArgs(out=tmp_path / "phase2b", steps=3, init=tmp_path / "phase1" / LATEST, overrides=phase2,
                           **common))
    records = [json.loads(line) for line in (tmp_path / "phase2b" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3]
    assert all(r["nce_loss"] > 0 and r["loss"] == pytest.approx(r["jepa_loss"] + r["nce_loss"], rel=1e-5)
               for r in records)
    assert json.loads((tmp_path / "phase2b" / "run.json").read_text())["init"].endswith(LATEST)


def test_init_refuses_a_checkpoint_of_another_model(tmp_path, multitrack_dir):
    common = dict(config=TINY, data=(multitrack_dir,), cache_dir=tmp_path / "cache", device="cpu")
    run_training(TrainArgs(out=tmp_path / "phase1", steps=2, overrides=("train.batch_size=4",), **common))
    with pytest.raises(SystemExit, match="model config differs"):
        run_training(TrainArgs(out=tmp_path / "other", steps=2, init=tmp_path / "phase1" / LATEST,
                               overrides=("train.batch_size=4", "model.encoder.dim=32"), **common))


def test_both_entry_points_share_one_parser(tmp_path):
    """`stemjepa train` hands its arguments to model/train.py's parser: every option, --init included."""
    from typer.testing import CliRunner

    from model.train import argument_parser, parse_args
    from stemjepa.cli import app

    argv = ["--config", "tiny", "--data", "a", "--data", "b", "--out", str(tmp_path), "--steps", "5", "--stop-at", "3",
            "--resume", "--init", "x.pt", "--validate", "v", "--monitor", "m", "--stats", "s.json", "--cache-dir", "c",
            "--device", "cpu", "--set", "train.lr=1e-3"]
    args = parse_args(argv)
    assert args.init == Path("x.pt") and args.stop_at == 3 and args.resume and args.overrides == ("train.lr=1e-3",)
    assert args.data == (Path("a"), Path("b")) and args.validate == Path("v") and args.monitor == (Path("m"),)
    result = CliRunner().invoke(app, ["train", "--help"])
    assert result.exit_code == 0, result.output
    options = {o for a in argument_parser()._actions for o in a.option_strings if o.startswith("--")}
    assert options >= {"--init", "--validate", "--stop-at", "--set", "--resume"}
    assert all(o in result.output for o in options)


@pytest.mark.slow
def test_tiny_model_reduces_the_loss_clearly(tmp_path, multitrack_dir):
    trainer = run_training(TrainArgs(tmp_path / "run", TINY, (multitrack_dir,), steps=300, cache_dir=tmp_path / "cache",
                                     device="cpu", overrides=("train.batch_size=8",)))
    losses = _losses(tmp_path / "run")
    first, last = np.mean(losses[:20]), np.mean(losses[-20:])
    assert last < 0.7 * first, (first, last)
    # the checkpoint rebuilds an Embedder without the training code
    emb = Embedder.from_checkpoint(tmp_path / "run" / LATEST, device="cpu")
    assert emb.embed_stem(np.zeros(16_000, np.float32)).vector.shape == (emb.dim,)
    assert trainer.step == 300


def test_warmup_then_cosine():
    from model.config import TrainConfig

    cfg = TrainConfig(steps=100, warmup_steps=10, lr=1.0, min_lr=0.0)
    assert lr_at(0, cfg) == pytest.approx(0.1)
    assert lr_at(9, cfg) == pytest.approx(1.0)
    assert lr_at(55, cfg) == pytest.approx(0.5)
    assert lr_at(100, cfg) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.realdata
def test_script_runs_on_musdb_train_and_validates(tmp_path):
    import subprocess
    import sys

    data = require(MUSDB_TRAIN)
    out = tmp_path / "run"
    cmd = [sys.executable, str(REPO / "model/train.py"), "--config", str(TINY), "--data", str(data), "--out", str(out),
           "--steps", "10", "--cache-dir", str(tmp_path / "cache"), "--device", "cpu",
           "--set", "train.batch_size=4", "--validate", str(data)]
    subprocess.run(cmd, check=True, cwd=tmp_path, timeout=300)
    ckpt = load_checkpoint(out / LATEST)
    assert ckpt["step"] == 10
    assert (out / "best.pt").exists()


def test_minutes_fits_the_schedule_to_the_time_and_validates_inside_it(tmp_path, multitrack_dir):
    """--minutes times the warm-up (and one validation), then sets train.steps to what fits: the run ends near
    the time asked for, its saved config says the fitted length, and the step count matches it."""
    import time

    started = time.perf_counter()
    trainer = run_training(TrainArgs(out=tmp_path / "timed", config=TINY, data=(multitrack_dir,),
                                     validate=multitrack_dir, cache_dir=tmp_path / "cache", device="cpu", minutes=0.15,
                                     overrides=("train.batch_size=4", "train.warmup_steps=3",
                                                "train.validate_every=10", "train.steps=100000")))
    elapsed = time.perf_counter() - started
    steps = trainer.run.train.steps
    assert 3 < steps < 100000
    assert trainer.step == steps == load_checkpoint(tmp_path / "timed" / LATEST)["step"]
    assert load_checkpoint(tmp_path / "timed" / LATEST)["run_config"]["train"]["steps"] == steps
    assert (tmp_path / "timed" / "best.pt").exists()
    assert elapsed < 60  # 9 s asked for; caching, statistics and validations come on top
    with pytest.raises(SystemExit, match="--minutes"):
        run_training(TrainArgs(out=tmp_path / "timed", config=TINY, resume=True, minutes=0.1,
                               cache_dir=tmp_path / "cache", device="cpu"))
