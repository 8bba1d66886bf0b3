"""The retrieval evaluation end to end with a tiny model: systems, report files and tables."""

import json

from evaluation.ranking import evaluate_scores
from evaluation.report import write_retrieval_report
from evaluation.retrieval import baseline_systems, checkpoint_labels, evaluate_retrieval
from evaluation.songs import query_pairs


def test_retrieval_report_has_every_system_protocol_and_file(eval_songs, tiny_checkpoint, tmp_path):
    report = evaluate_retrieval(eval_songs, [tiny_checkpoint, tiny_checkpoint], device="cpu", n_boot=50)
    names = list(report["systems"])
    suffixes = [
        "tiny #1 [tiny] · target",
        "tiny #1 [tiny] · context",
        "tiny #2 [tiny] · target",
        "tiny #2 [tiny] · context",
        "features alone",
        "tiny #1 [tiny] · target + features",
        "random",
        "mashability (AutoMashupper-style)",
    ]
    assert len(names) == len(suffixes)
    assert all(n.endswith(s) for n, s in zip(names, suffixes, strict=True))
    assert report["queries"] == report["references"] == 12
    for result in report["systems"].values():
        for protocol in ("A", "B"):
            m = result[protocol]["metrics"]
            assert 0 <= m["R@1"] <= m["R@5"] <= m["R@10"] <= 100
            assert set(result[protocol]["ci95"]) >= {"R@1", "median_norm_rank", "same_song_rate"}
        assert set(result["failure"]) == {"bass", "drums", "vocals", "other", "all"}
    files = write_retrieval_report(report, tmp_path / "out")
    assert all(f.exists() and f.stat().st_size > 0 for f in files)
    assert sum(f.suffix == ".png" for f in files) >= 8
    md = (tmp_path / "out" / "retrieval.md").read_text()
    for heading in ("Protocol A", "Protocol B", "Per-instrument R@1", "Failure analysis", "Confusion"):
        assert heading in md
    assert json.loads((tmp_path / "out" / "retrieval.json").read_text())["queries"] == 12


def test_random_baseline_sits_at_chance(eval_songs):
    (system,) = baseline_systems(query_pairs(eval_songs), 16_000, mash=False)
    m = evaluate_scores(system.scores, system.labels, ["bass", "drums", "other", "vocals"], n_boot=0)["A"]["metrics"]
    assert abs(m["mean_norm_rank"] - 100 * 13 / 24) < 5  # E[rank] = (R + 1) / 2 of R = 12
    assert abs(m["R@1"] - 100 / 12) < 3


def test_checkpoint_labels_are_unique_and_short():
    assert checkpoint_labels(["runs/a/best.pt", "runs/b/best.pt", "x/small.pt", None]) == [
        "a/best",
        "b/best",
        "x/small",
        "bundled",
    ]
    assert checkpoint_labels(["a/m.pt", "a/m.pt"]) == ["a/m #1", "a/m #2"]


def test_musical_systems_are_measured_beside_the_model_unless_turned_off(eval_songs, tiny_checkpoint):
    with_musical = evaluate_retrieval(eval_songs, [tiny_checkpoint], device="cpu", n_boot=0, baselines=False)
    names = list(with_musical["systems"])
    assert names[-2] == "features alone" and names[-1].startswith("fused: ")
    without = evaluate_retrieval(eval_songs, [tiny_checkpoint], device="cpu", n_boot=0, baselines=False,
                                 musical=False)
    assert list(without["systems"]) == names[:-2]
    for name in names[:-2]:  # the model's own rows do not change
        assert without["systems"][name]["B"]["metrics"] == with_musical["systems"][name]["B"]["metrics"]
