import subprocess
import sys

import numpy as np
import torch

from model.checkpoint import build_model, export_inference, load_checkpoint
from model.transport import from_pieces, quantise_rows, to_pieces
from tests.conftest import REPO


def test_quantised_rows_are_within_half_a_step_of_each_rows_scale():
    w = torch.randn(64, 300) * torch.logspace(-3, 1, 64)[:, None]  # rows of very different magnitudes
    q, scale = quantise_rows(w)
    assert q.dtype == torch.int8 and scale.shape == (64,)
    err = (q.float() * scale[:, None] - w).abs()
    assert torch.all(err <= scale[:, None] / 2 + 1e-9)


def test_pieces_round_trip_to_a_loadable_checkpoint(tmp_path, tiny_checkpoint):
    exported = export_inference(tiny_checkpoint, tmp_path / "inference.pt")
    pieces = to_pieces(exported, tmp_path / "pieces", "tiny", piece_bytes=50_000, min_numel=1024)
    assert len(pieces) > 1 and all(p.stat().st_size <= 50_000 for p in pieces)
    back = from_pieces(list(reversed(pieces)), tmp_path / "rebuilt.pt")  # order comes from the names
    assert load_checkpoint(tmp_path / "rebuilt.pt")["step"] == exported["step"]
    quantised = 0
    for key, value in exported["model"].items():
        got = back["model"][key]
        assert got.shape == value.shape and got.dtype == value.dtype, key
        if value.dtype == torch.float16 and value.ndim == 2 and value.numel() >= 1024:
            quantised += 1
            bound = value.float().abs().amax(dim=1, keepdim=True) / 254 + 1e-3  # half a step, plus float16
            assert torch.all((got.float() - value.float()).abs() <= bound), key
        else:
            assert torch.equal(got, value), key
    assert quantised > 0
    model = build_model(back)
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((1, 16000 * 8)).astype(np.float32) * 0.1)
    with torch.no_grad():
        assert torch.isfinite(model.logmel(x)).all()


def test_training_code_imports_and_reads_ogg_without_pyav(tmp_path):
    """A bare GPU image has no PyAV: training from libsndfile formats must not need it."""
    code = ("import sys; sys.modules['av'] = None\n"
            "import numpy as np, soundfile as sf\n"
            "import model.train, scripts.device_train\n"
            "from model.audio import load_mono\n"
            f"sf.write('{tmp_path}/x.ogg', np.sin(np.arange(16000) / 10).astype('float32') * 0.3, 16000, "
            "format='OGG', subtype='OPUS')\n"
            f"print(len(load_mono('{tmp_path}/x.ogg', 16000)))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip()) == 16000
