"""The `stemjepa eval ...` and `stemjepa bench` commands."""

import json

import typer
from typer.testing import CliRunner

from evaluation import cli

runner = CliRunner()


def app() -> typer.Typer:
    root = typer.Typer()
    root.add_typer(cli.eval_app, name="eval")
    root.command("bench")(cli.bench)
    return root


def test_eval_retrieval_writes_tables_and_plots(song_dir, tiny_checkpoint, tmp_path):
    out = tmp_path / "ret"
    res = runner.invoke(
        app(),
        [
            "eval",
            "retrieval",
            str(song_dir),
            "-c",
            str(tiny_checkpoint),
            "--out",
            str(out),
            "--bootstrap",
            "20",
            "--device",
            "cpu",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "Protocol A" in res.output and "mashability" in res.output
    assert (out / "retrieval.md").exists() and list(out.glob("confusion_*.png"))


def test_eval_compatibility_on_a_rendered_sibling_corpus(sibling_corpus, tiny_checkpoint, tmp_path):
    out = tmp_path / "compat"
    args = ["eval", "compatibility", str(sibling_corpus), "-c", str(tiny_checkpoint), "--out", str(out),
            "--bootstrap", "20", "--device", "cpu"]
    res = runner.invoke(app(), args)
    assert res.exit_code == 0, res.output
    assert "Exact relevance, protocol A" in res.output and "mashability" in res.output
    report = json.loads((out / "compatibility.json").read_text())
    assert (report["songs"], report["groups"], report["variants"], report["queries"]) == (6, 2, 2, 24)
    for result in report["systems"].values():
        assert result["A"]["exact"]["queries"] == 16 and result["B"]["conformable"]["queries"] == 24
    assert (out / "compat_conformable.png").exists() and (out / "top1_exact_A.png").exists()
    res = runner.invoke(app(), ["eval", "compatibility", str(sibling_corpus.parent / "nothing")])
    assert res.exit_code != 0


def test_eval_alignment_and_content(song_dir, tiny_checkpoint, tmp_path):
    res = runner.invoke(
        app(),
        [
            "eval",
            "alignment",
            str(song_dir),
            "-c",
            str(tiny_checkpoint),
            "--out",
            str(tmp_path / "al"),
            "--device",
            "cpu",
        ],
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "al" / "alignment_curves.png").exists()
    res = runner.invoke(
        app(),
        [
            "eval",
            "content",
            str(song_dir),
            "-c",
            str(tiny_checkpoint),
            "--out",
            str(tmp_path / "co"),
            "--folds",
            "2",
            "--device",
            "cpu",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "key probe on" in res.output


def test_root_cli_registers_eval_and_bench():
    from stemjepa.cli import app as root

    names = {c.name for c in root.registered_commands} | {g.name for g in root.registered_groups}
    assert {"eval", "bench"} <= names


def test_bench_takes_the_folded_scripts_options(tmp_path):
    res = runner.invoke(app(), ["bench", "--smoke", "--parts", "faiss,memory", "--faiss-sizes", "1000",
                                "--faiss-clusters", "0", "--faiss-flat", "fp16", "--faiss-nprobe", "2,8",
                                "--faiss-dim", "16", "--out", str(tmp_path / "b"), "--device", "cpu"])
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "b" / "bench.json").read_text())
    assert [r["index"].split(" ")[-1] for r in report["faiss"]] == ["flat", "nprobe=2", "nprobe=8"]
    assert report["faiss"][0]["storage"] == "fp16" and "train" not in report
    bad = runner.invoke(app(), ["bench", "--smoke", "--parts", "gpu"])
    assert bad.exit_code != 0 and "unknown parts" in bad.output
