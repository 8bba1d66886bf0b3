"""The query path's frozen predictor (model.querypredictor): the instrument folded into the first layer's bias and
the units that never fire left out compute what the model's own MLP predictor computes."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from model.embed import Embedder
from model.querypredictor import WIDTH_MULTIPLE, LiveUnits, QueryPredictor, fit_live_units, units_path
from tests.conftest import synth_stems


def _contexts(model, count: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    with torch.inference_mode():
        wave = torch.randn(count, model.cfg.audio.chunk_samples, generator=g) * 0.1
        return model.context_encoder(model.features(wave))


def test_folded_first_layer_computes_the_predictor(tiny_model):
    names = tiny_model.cfg.instruments
    ctx = _contexts(tiny_model, 3, 0)
    inst = torch.tensor([2, 0, 2])  # two instruments in one batch: each row through its own
    frozen = QueryPredictor(tiny_model.predictor, names, None).eval()
    with torch.inference_mode():
        expected = tiny_model.predictor(ctx, inst)
        got = frozen(ctx, inst)
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, atol=1e-5)
    assert [len(w) for w in frozen.per_instrument[0].weights[:-1]] == [tiny_model.cfg.predictor.hidden] * 5


def test_unconditioned_predictor_folds_to_its_bias(tiny_run):
    from model.jepa import StemJEPA

    cfg = dataclasses.replace(tiny_run.model, predictor=dataclasses.replace(tiny_run.model.predictor,
                                                                            conditioned=False))
    torch.manual_seed(1)
    model = StemJEPA(cfg)
    ctx = _contexts(model, 2, 1)
    inst = torch.tensor([1, 3])
    with torch.inference_mode():
        assert torch.allclose(QueryPredictor(model.predictor, cfg.instruments, None)(ctx, inst),
                              model.predictor(ctx, inst), atol=1e-5)


def test_units_that_never_fire_are_left_out_and_change_nothing(tiny_model):
    names = tiny_model.cfg.instruments
    hidden = tiny_model.cfg.predictor.hidden
    killed = list(range(0, hidden, 3))  # a third of the second hidden layer can never fire
    with torch.no_grad():
        tiny_model.predictor.net[2].bias[killed] = -1e3
    ctx = _contexts(tiny_model, 4, 2)
    units = fit_live_units(tiny_model.predictor, [(ctx, i) for i in range(len(names))], names, "h", "test")
    frozen = QueryPredictor(tiny_model.predictor, names, units).eval()
    for i, name in enumerate(names):
        kept = units.kept(name)
        assert not set(killed) & set(kept[1].tolist())
        widths = frozen.per_instrument[i].widths
        assert all(w % WIDTH_MULTIPLE == 0 or w == hidden for w in widths)
        assert widths[1] < hidden
        inst = torch.full((len(ctx),), i)
        with torch.inference_mode():
            assert torch.allclose(frozen(ctx, inst), tiny_model.predictor(ctx, inst), atol=1e-5)


def test_widths_round_up_with_the_most_active_units():
    maxima = np.array([-5.0, 0.3, -0.01, 2.0, -1.0, 0.1, -0.5, -3.0], dtype=np.float32)
    units = LiveUnits({"bass": [maxima]}, "h", "test")
    assert units.kept("bass", multiple=4)[0].tolist() == [1, 2, 3, 5]  # 3 fired, then the nearest to firing
    assert units.kept("bass", multiple=16)[0].tolist() == list(range(8))  # never wider than the layer


def test_units_file_round_trip_and_belongs_to_its_checkpoint(tmp_path):
    units = LiveUnits({"bass": [np.arange(4, dtype=np.float32), -np.ones(6, np.float32)],
                       "drums": [np.zeros(4, np.float32), np.ones(6, np.float32)]}, "a" * 64, "songs")
    path = tmp_path / "x.predictor-units.npz"
    units.save(path)
    back = LiveUnits.load(path, "a" * 64)
    assert back is not None and back.data == "songs" and set(back.maxima) == {"bass", "drums"}
    for name in units.maxima:
        for a, b in zip(units.maxima[name], back.maxima[name], strict=True):
            np.testing.assert_array_equal(a, b)
    assert LiveUnits.load(path, "b" * 64) is None
    assert LiveUnits.load(tmp_path / "absent.npz", "a" * 64) is None
    assert units_path(tmp_path / "m.pt") == tmp_path / "m.predictor-units.npz"


def test_cli_writes_units_that_the_checkpoint_loads_with(tiny_checkpoint: Path, multitrack_dir: Path):
    from stemjepa.cli import app

    result = CliRunner().invoke(app, ["predictor-units", "--data", str(multitrack_dir), "-c", str(tiny_checkpoint)])
    assert result.exit_code == 0, result.output
    assert units_path(tiny_checkpoint).is_file()
    frozen = Embedder.from_checkpoint(tiny_checkpoint, device="cpu")
    assert frozen.predictor_units is not None
    live = Embedder(frozen.model, "cpu")  # the model's own predictor, as training validates with
    assert live.query_predictor is live.model.predictor
    mix = sum(synth_stems(np.random.default_rng(5), 12.0).values()).astype(np.float32)
    for name in ("bass", "vocals"):
        a, b = frozen.predict_one(mix, name), live.predict_one(mix, name)
        np.testing.assert_allclose(a.vector, b.vector, atol=1e-4)
        np.testing.assert_allclose(a.frames, b.frames, atol=1e-3)


def test_fitting_needs_every_instrument(tiny_model):
    ctx = _contexts(tiny_model, 1, 3)
    with pytest.raises(ValueError, match="every instrument"):
        fit_live_units(tiny_model.predictor, [(ctx, 0)], tiny_model.cfg.instruments, "h", "test")
