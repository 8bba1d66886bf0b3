"""Key and tempo labels, compatibility rules, probes and the content evaluation."""

import numpy as np
import pytest

from evaluation.content import (
    compatibility,
    evaluate_content,
    keys_compatible,
    probe_key,
    probe_tempo,
    song_key,
    tempi_compatible,
)
from evaluation.report import write_content_report
from model.embed import Embedder


@pytest.mark.parametrize(
    ("a", "b", "ok"),
    [
        ((0, "major"), (0, "major"), True),
        ((0, "major"), (9, "minor"), True),
        ((9, "minor"), (0, "major"), True),
        ((0, "major"), (7, "major"), True),
        ((0, "major"), (5, "major"), True),
        ((2, "minor"), (9, "minor"), True),
        ((0, "major"), (0, "minor"), False),
        ((0, "major"), (2, "major"), False),
        ((0, "major"), (4, "minor"), False),
    ],
)
def test_key_compatibility(a, b, ok):
    assert keys_compatible(a, b) is ok


def test_song_key_reads_synth_metadata_and_key_names():
    assert song_key({"key": "B major", "tonic": 11, "mode": "major"}) == (11, "major")
    assert song_key({"key": "F# minor"}) == (6, "minor")
    assert song_key({"key": "Eb:maj"}) == (3, "major")
    assert song_key({"key": "C# dorian", "tonic": 1, "mode": "dorian"}) == (1, "minor")
    assert song_key({"tempo": 120}) is None


def test_tempo_compatibility_is_four_percent():
    assert tempi_compatible(100, 104) and not tempi_compatible(100, 105)


def test_probes_learn_separable_labels_and_beat_their_baselines():
    rng = np.random.default_rng(0)
    songs = np.repeat(np.arange(40), 3)
    keys = [(int(s % 4) * 2, "major") for s in songs]
    tempo = np.array([80.0 + 10 * (s % 5) for s in songs])
    x = np.concatenate([np.eye(4)[songs % 4], (tempo[:, None] - 100) / 20], axis=1) + 0.01 * rng.standard_normal(
        (120, 5)
    )
    key = probe_key(x, keys, songs, k=4)
    assert key["accuracy"] == 100.0 and key["majority_class_accuracy"] < 40
    t = probe_tempo(x, tempo, songs, k=4)
    assert t["mae_bpm"] < 2.0 and t["baseline_mae_bpm"] > 5.0


def test_compatibility_counts_top_hits_against_chance():
    songs = np.array([f"s{i}" for i in range(6)])
    insts = np.array(["bass"] * 6)
    key_of = {s: ((0, "major") if i < 3 else (6, "major")) for i, s in enumerate(songs)}
    tempo_of = dict.fromkeys(songs, 100.0)
    emb = np.array([[1.0, 0.0]] * 3 + [[0.0, 1.0]] * 3)  # embeddings that know the key
    c = compatibility(emb, emb, songs, songs, insts, insts, key_of, tempo_of, top=2)  # type: ignore[arg-type]
    assert c["key_pct"] == 100.0 and c["key_chance_pct"] == pytest.approx(40.0)
    assert c["tempo_pct"] == c["tempo_chance_pct"] == 100.0


def test_content_evaluation_with_the_tiny_model(labelled_songs, tiny_checkpoint, tmp_path):
    embedder = Embedder.from_checkpoint(tiny_checkpoint, device="cpu")
    report = evaluate_content(embedder, labelled_songs, folds=3)
    assert report["songs"] == 10 and report["stems"] == 40
    assert 0 <= report["key probe (stem embeddings)"]["accuracy"] <= 100
    assert report["compatibility"]["queries"] == 40
    md = write_content_report(report, tmp_path)[1].read_text()
    assert "key probe on" in md and "Cross-song compatibility" in md


def test_content_evaluation_needs_labels(eval_songs, tiny_checkpoint):
    with pytest.raises(ValueError, match="key and tempo metadata"):
        evaluate_content(Embedder.from_checkpoint(tiny_checkpoint, device="cpu"), eval_songs)
