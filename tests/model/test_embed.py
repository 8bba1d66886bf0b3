import numpy as np
import pytest

from model.embed import Embedder
from model.errors import UnknownInstrumentError


@pytest.fixture
def embedder(tiny_checkpoint):
    return Embedder.from_checkpoint(tiny_checkpoint, device="cpu")


@pytest.mark.parametrize("seconds, frames", [(0.05, 1), (3.0, 19), (8.0, 50), (20.0, 125)])
def test_shapes_for_short_exact_and_long_audio(embedder, seconds, frames):
    wave = np.random.default_rng(0).standard_normal(int(seconds * 16_000)).astype(np.float32) * 0.1
    emb = embedder.embed_stem(wave)
    assert emb.vector.shape == (embedder.dim,)
    assert emb.frames.shape == (frames, embedder.frame_dim)
    assert abs(np.linalg.norm(emb.vector) - 1) < 1e-5
    np.testing.assert_allclose(np.linalg.norm(emb.frames, axis=1), 1, atol=1e-5)
    q = embedder.predict_one(wave, "bass")
    assert q.vector.shape == (embedder.dim,) and q.frames.shape == (frames, embedder.frame_dim)


def test_same_vector_alone_and_inside_a_batch(embedder):
    rng = np.random.default_rng(1)
    waves = [rng.standard_normal(n).astype(np.float32) * 0.1 for n in (16_000 * 8, 16_000 * 3, 16_000 * 12)]
    batch = embedder.embed_stems(waves)
    for w, b in zip(waves, batch, strict=True):
        alone = embedder.embed_stem(w)
        np.testing.assert_allclose(alone.vector, b.vector, atol=1e-5)
        np.testing.assert_allclose(alone.frames, b.frames, atol=1e-5)
    qs = embedder.predict(waves, ["bass", "drums", "vocals"])
    np.testing.assert_allclose(embedder.predict_one(waves[1], "drums").vector, qs[1].vector, atol=1e-5)


def test_instrument_conditions_the_query(embedder):
    wave = np.random.default_rng(2).standard_normal(16_000 * 4).astype(np.float32) * 0.1
    a, b = embedder.predict_one(wave, "bass"), embedder.predict_one(wave, "vocals")
    assert not np.allclose(a.vector, b.vector)


def test_unknown_instrument_is_a_domain_error(embedder):
    with pytest.raises(UnknownInstrumentError, match="kazoo"):
        embedder.predict_one(np.zeros(16_000, np.float32), "kazoo")


def test_checkpoint_describes_itself(embedder, tiny_checkpoint):
    assert embedder.cfg.name == "tiny"
    assert embedder.vocabulary.names == ("bass", "drums", "vocals", "other")
    assert len(embedder.checkpoint_hash) == 64
    assert embedder.frame_seconds == pytest.approx(0.16)


def test_exported_half_checkpoint_embeds_like_the_original(tmp_path, tiny_checkpoint):
    from model.checkpoint import export_inference, load_checkpoint

    export_inference(tiny_checkpoint, tmp_path / "ship.pt")
    assert "training_state" not in load_checkpoint(tmp_path / "ship.pt")
    wave = np.random.default_rng(3).standard_normal(16_000 * 5).astype(np.float32) * 0.1
    a = Embedder.from_checkpoint(tiny_checkpoint, device="cpu").embed_stem(wave).vector
    b = Embedder.from_checkpoint(tmp_path / "ship.pt", device="cpu").embed_stem(wave).vector
    assert float(a @ b) > 0.999


def test_frame_centres_remove_the_positional_code(tmp_path, tiny_checkpoint, multitrack_dir):
    """After fitting, the mean centred frame of training chunks is ~zero at every window position, and the
    pooled vector (the paper's) is unchanged."""
    import torch

    from model.cache import build_cache
    from model.centring import fit_frame_centres
    from model.dataset import PairDataset

    embedder = Embedder.from_checkpoint(tiny_checkpoint, device="cpu")
    wave = np.random.default_rng(4).standard_normal(16_000 * 8).astype(np.float32) * 0.1
    before = embedder.embed_stem(wave)
    songs = build_cache([multitrack_dir], tmp_path / "cache", embedder.vocabulary)
    dataset = PairDataset(songs, embedder.cfg.audio.chunk_samples, 0, -50.0)
    counts = fit_frame_centres(embedder, dataset, chunks=8)
    assert counts["chunks"] == 8 and sum(v for k, v in counts.items() if k != "chunks") == 8
    assert torch.count_nonzero(embedder.model.frame_centre_ref) > 0
    after = embedder.embed_stem(wave)
    np.testing.assert_allclose(before.vector, after.vector, atol=1e-6)
    assert not np.allclose(before.frames, after.frames)


def test_query_centres_command_writes_the_sidecar_that_the_embedder_loads(tmp_path, tiny_checkpoint, multitrack_dir):
    """`stemjepa query-centres` fits one unit direction per instrument on training songs, beside the checkpoint;
    Embedder.from_checkpoint then carries them, and a retrained checkpoint no longer does."""
    from typer.testing import CliRunner

    from model.checkpoint import query_centres_path
    from stemjepa.cli import app

    result = CliRunner().invoke(app, ["query-centres", "--data", str(multitrack_dir), "-c", str(tiny_checkpoint)])
    assert result.exit_code == 0, result.output
    assert query_centres_path(tiny_checkpoint).is_file()
    embedder = Embedder.from_checkpoint(tiny_checkpoint, device="cpu")
    assert embedder.query_centres is not None and set(embedder.query_centres) == set(embedder.vocabulary.names)
    for v in embedder.query_centres.values():
        assert v.shape == (embedder.dim,) and abs(float(np.linalg.norm(v)) - 1) < 1e-5
    tiny_checkpoint.write_bytes(tiny_checkpoint.read_bytes() + b"\0")  # another file: the centres no longer fit
    assert Embedder.from_checkpoint(tiny_checkpoint, device="cpu").query_centres is None


def test_forward_passes_side_by_side_give_the_same_embeddings(embedder):
    """threads=2 splits a query batch's windows between two threads: same vectors and frames, query by query."""
    rng = np.random.default_rng(2)
    mixes = [rng.standard_normal(n).astype(np.float32) * 0.1 for n in (16_000 * 40, 16_000 * 5, 16_000 * 17)]
    instruments = ["bass", "drums", "vocals"]
    one = embedder.predict(mixes, instruments)
    two = embedder.predict(mixes, instruments, threads=2)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_allclose(a.vector, b.vector, atol=1e-5)
        np.testing.assert_allclose(a.frames, b.frames, atol=1e-5)
    # the same passes in a pool shared with other work (the service's compute pool), busy when they arrive
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        busy = pool.submit(sum, range(2_000_000))
        shared = embedder.predict(mixes, instruments, threads=2, pool=pool)
        assert busy.result() == sum(range(2_000_000))
    for a, b in zip(two, shared, strict=True):
        np.testing.assert_array_equal(a.vector, b.vector)
        np.testing.assert_array_equal(a.frames, b.frames)


def test_windows_per_pass_default_by_device_and_no_effect_on_the_embeddings(tiny_checkpoint):
    """A CPU embeds CPU_WINDOWS_PER_PASS windows per forward pass (cache-sized activations) unless told
    otherwise; the pass size changes the speed only, never a window's embedding."""
    from model.embed import CPU_WINDOWS_PER_PASS

    default = Embedder.from_checkpoint(tiny_checkpoint, device="cpu")
    assert default.batch_size == CPU_WINDOWS_PER_PASS
    rng = np.random.default_rng(3)
    mix = rng.standard_normal(16_000 * 60).astype(np.float32) * 0.1  # 8 windows: passes of 16, 4 and 3
    outputs = []
    for size in (16, CPU_WINDOWS_PER_PASS, 3):
        e = Embedder.from_checkpoint(tiny_checkpoint, device="cpu", batch_size=size)
        assert e.batch_size == size
        outputs.append((e.predict_one(mix, "bass"), e.embed_stems([mix, mix[: 16_000 * 20]])))
    for query, stems in outputs[1:]:
        np.testing.assert_allclose(query.vector, outputs[0][0].vector, atol=1e-6)
        np.testing.assert_allclose(query.frames, outputs[0][0].frames, atol=1e-6)
        for a, b in zip(stems, outputs[0][1], strict=True):
            np.testing.assert_allclose(a.frames, b.frames, atol=1e-6)


def test_gpu_precision_defaults_to_float32_and_rejects_unknown_names(tiny_model):
    """A GPU-built catalogue must compute what the CPU service computes (MODEL_CARD.md: bf16 moved 8 % of
    ranks on an H200, fp32 none), so float32 is the default; a typo is refused, not silently bf16."""
    import pytest

    from model.embed import Embedder

    assert Embedder(tiny_model, "cpu").precision == "fp32"
    with pytest.raises(ValueError, match="precision"):
        Embedder(tiny_model, "cpu", precision="fp16")  # type: ignore[arg-type]
