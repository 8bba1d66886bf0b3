import json

from evaluation.training import training_curves_png, validation_series


def test_training_curves_from_metrics(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    records = [{"step": s, "loss": 1.0 / s} for s in range(1, 51)]
    records.append({"step": 50, "val": {"selection": {"A": {"R@1": 10.0}, "B": {"R@1": 20.0}}}})
    (run / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    series = validation_series(records)
    assert series["selection/A"] == ([50], [10.0]) and series["selection/B"] == ([50], [20.0])
    training_curves_png({"cond": run}, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size > 10_000


def test_a_restarted_run_replaces_the_older_records(tmp_path):
    from evaluation.training import read_metrics

    run = tmp_path / "run"
    run.mkdir()
    lines = [{"step": s, "loss": 9.0} for s in range(1, 6)]  # a first attempt, abandoned
    lines += [{"step": s, "loss": 1.0} for s in range(1, 4)]  # a fresh start
    lines += [{"step": s, "loss": 0.5} for s in range(3, 5)]  # resumed from step 2
    (run / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in lines))
    assert [(r["step"], r["loss"]) for r in read_metrics(run)] == [(1, 1.0), (2, 1.0), (3, 0.5), (4, 0.5)]
