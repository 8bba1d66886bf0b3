"""Tests of the fixed sets: their seeds are reserved, and no other corpus can draw their plans."""

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from model.multitrack import EVALUATION_SET_NAME
from stemjepa.cli import app
from synth.batch import write_corpus
from synth.sets import EVALUATION_SET, FIXED_SETS, RESERVED_SEEDS, SELECTION_SET, ReservedSeedError
from synth.siblings import SiblingCorpus, sibling_rng
from synth.song import SongSettings, song_rng


def test_the_fixed_sets_have_their_own_seeds_and_the_model_knows_the_evaluation_set_by_name() -> None:
    assert EVALUATION_SET.name == EVALUATION_SET_NAME
    assert len(RESERVED_SEEDS) == len(FIXED_SETS) == 2
    assert EVALUATION_SET.sample_rate == SELECTION_SET.sample_rate == 16_000


@pytest.mark.parametrize("fixed", list(FIXED_SETS.values()), ids=list(FIXED_SETS))
def test_reserved_seeds_are_refused_outside_their_set(fixed, tmp_path: Path) -> None:
    with pytest.raises(ReservedSeedError):
        write_corpus(tmp_path, 1, fixed.seed, SongSettings(duration=1.0, sample_rate=8000))
    with pytest.raises(ReservedSeedError):
        SiblingCorpus(fixed.seed, 2, 2)
    other = next(name for name in FIXED_SETS if name != fixed.name)
    with pytest.raises(ReservedSeedError):
        SiblingCorpus(fixed.seed, 2, 2, set_name=other)
    with pytest.raises(ReservedSeedError):
        SiblingCorpus(fixed.seed + 1, 2, 2, set_name=fixed.name)
    assert SiblingCorpus(fixed.seed, fixed.groups, fixed.siblings, fixed.variants, fixed.name).set_name == fixed.name
    assert not list(tmp_path.iterdir())


def test_the_command_line_renders_reserved_seeds_only_through_set(tmp_path: Path) -> None:
    runner = CliRunner()
    for args in (["--seed", str(EVALUATION_SET.seed)], ["--siblings", "2", "--seed", str(EVALUATION_SET.seed)],
                 ["--set", "evaluation", "--groups", "3"], ["--set", "nonsense"]):
        result = runner.invoke(app, ["synth", str(tmp_path / "out"), *args])
        assert result.exit_code != 0, args
    assert not (tmp_path / "out").exists()


def test_fixed_set_streams_never_meet_another_corpus_stream() -> None:
    """Every group plan and member stream of both sets differs from every ordinary song stream of any seed
    used for training in this project (and neighbouring indices), and from the other set's streams."""

    def state(rng: np.random.Generator) -> tuple[int, ...]:
        return tuple(int(x) for x in rng.bit_generator.state["state"].values() if isinstance(x, int))

    fixed: dict[tuple[int, ...], str] = {}
    for spec in FIXED_SETS.values():
        for group in range(spec.groups):
            for kind, numbers in ((1, [0]), (2, range(1, spec.siblings + 1)), (3, range(1, spec.variants + 1))):
                for number in numbers:
                    fixed[state(sibling_rng(spec.seed, group, kind, number))] = spec.name
    assert len(fixed) == sum(s.groups * (1 + s.siblings + s.variants) for s in FIXED_SETS.values())
    ordinary = {state(song_rng(seed, index)) for seed in (0, 1, 9, 1000, 9000, *RESERVED_SEEDS) for index in range(400)}
    assert not ordinary & set(fixed)
