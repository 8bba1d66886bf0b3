"""Tests of the command line."""

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from synth import batch
from synth.cli import synth, synth_plot
from synth.song import SongSettings
from tests.synth.conftest import needs_fluidsynth


@needs_fluidsynth
def test_synth_command_writes_songs_and_a_plot(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command("synth")(synth)
    app.command("plot")(synth_plot)
    out = tmp_path / "corpus"
    args = ["synth", str(out), "--songs", "2", "--seed", "9", "--duration", "3", "--sample-rate", "8000"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.glob("song_*")) == ["song_00000", "song_00001"]
    assert json.loads((out / "synth.json").read_text())["seed"] == 9
    result = CliRunner().invoke(app, ["plot", str(out / "song_00000"), str(tmp_path / "song.png")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "song.png").read_bytes()[:4] == b"\x89PNG"


@needs_fluidsynth
def test_a_failing_song_is_named_and_the_command_fails_after_writing_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = batch.make_song

    def fail_on_second(index: int, seed: int, s: SongSettings, folder: Path) -> object:
        if index == 1:
            raise RuntimeError("the soundfont went away")
        return real(index, seed, s, folder)

    monkeypatch.setattr(batch, "make_song", fail_on_second)
    app = typer.Typer()
    app.command("synth")(synth)
    app.command("plot")(synth_plot)
    out = tmp_path / "corpus"
    result = CliRunner().invoke(app, ["synth", str(out), "--songs", "3", "--seed", "9", "--duration", "2",
                                      "--sample-rate", "8000"])
    assert result.exit_code == 1
    assert "song_00001: RuntimeError: the soundfont went away" in result.output
    assert sorted(p.name for p in out.glob("song_*")) == ["song_00000", "song_00002"]
