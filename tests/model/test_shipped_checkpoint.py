"""The checkpoint shipped in the repository: it loads with no download, fits the size budget, and still
scores what MODEL_CARD.md says on MUSDB18-7 valid (protocol A R@1, recomputed the way `stemjepa eval
retrieval` computes it)."""

import json

import pytest

from model.checkpoint import default_checkpoint_path, load_checkpoint
from model.embed import Embedder
from tests.conftest import MUSDB_VALID, require

CARD_FIGURES = default_checkpoint_path().with_suffix(".json")


def test_shipped_checkpoint_loads_and_fits_the_budget():
    path = default_checkpoint_path()
    assert path.is_file(), f"no shipped checkpoint at {path}"
    assert path.stat().st_size <= 50e6
    ckpt = load_checkpoint(path)
    assert "training_state" not in ckpt  # inference weights only
    embedder = Embedder.from_checkpoint(None, device="cpu")
    assert embedder.vocabulary.names == ("bass", "drums", "vocals", "other")
    figures = json.loads(CARD_FIGURES.read_text())
    assert figures["checkpoint_sha256"] == embedder.checkpoint_hash


@pytest.mark.realdata
def test_validation_r_at_1_matches_the_model_card():
    from evaluation.songs import as_stem_dicts, load_songs
    from model.validate import build_retrieval_set, retrieval_metrics

    songs = load_songs(require(MUSDB_VALID))
    embedder = Embedder.from_checkpoint(None, device="cpu")
    metrics = retrieval_metrics(build_retrieval_set(embedder, as_stem_dicts(songs), reference="target"))
    card = json.loads(CARD_FIGURES.read_text())["musdb18-7-valid"]
    one_query = 100.0 / metrics["A"]["queries"]
    assert metrics["A"]["R@1"] == pytest.approx(card["A"]["R@1"], abs=one_query)
    assert metrics["B"]["R@1"] == pytest.approx(card["B"]["R@1"], abs=one_query)


def test_shipped_query_centres_belong_to_the_shipped_checkpoint(tmp_path):
    """The hub discount's per-instrument directions load with the checkpoint, one unit vector per instrument;
    a centres file made for another checkpoint is ignored rather than applied."""
    import numpy as np

    from model.centring import save_query_centres
    from model.checkpoint import load_query_centres, query_centres_path

    embedder = Embedder.from_checkpoint(None, device="cpu")
    centres = embedder.query_centres
    assert centres is not None and set(centres) == set(embedder.vocabulary.names)
    for v in centres.values():
        assert v.shape == (embedder.dim,) and abs(float(np.linalg.norm(v)) - 1) < 1e-5
    other = tmp_path / "other.query-centres.npz"
    save_query_centres(other, centres, "0" * 64, "test")
    assert load_query_centres(other, "0" * 64) is not None
    assert load_query_centres(other, embedder.checkpoint_hash) is None
    assert load_query_centres(tmp_path / "absent.npz", embedder.checkpoint_hash) is None
    assert query_centres_path(tmp_path / "a.pt") == tmp_path / "a.query-centres.npz"


def test_shipped_predictor_units_cut_the_predictor_without_changing_a_query():
    """The shipped checkpoint loads with its predictor-units sidecar (its hidden layers cut to the units that fired
    on training mixes), and a query through the cut predictor equals one through the model's own on the page's
    sample mix, which the units were not fitted on."""
    import numpy as np

    from model.querypredictor import LiveUnits, units_path
    from stemjepa.demo import SAMPLE_MIX

    cut = Embedder.from_checkpoint(None, device="cpu")
    units = cut.predictor_units
    assert units is not None and set(units.maxima) == set(cut.vocabulary.names)
    hidden = cut.cfg.predictor.hidden
    assert all(sum(len(k) for k in units.kept(n)) < 5 * hidden for n in units.maxima)  # something was left out
    assert LiveUnits.load(units_path(default_checkpoint_path()), "0" * 64) is None
    own = Embedder(cut.model, "cpu")
    mix = cut.load_audio(SAMPLE_MIX)
    for name in cut.vocabulary.names:
        for gain in (1.0, 0.25):
            a, b = cut.predict_one(mix * gain, name), own.predict_one(mix * gain, name)
            assert float(np.abs(a.vector - b.vector).max()) < 1e-5
            assert float(np.abs(a.frames - b.frames).max()) < 1e-4
