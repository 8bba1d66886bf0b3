"""The fixed sibling-song sets (evaluation, selection): their seeds and shapes, and the rule that reserves them.

The evaluation set measures cross-song compatibility and nothing trains or tunes on it; the selection set
(other seeds) is where weights are chosen. Their seeds render only their own set: a plain corpus or an
ad-hoc sibling corpus with one of these seeds is refused, so no other data can share their plans.
Training refuses songs whose metadata.json says `"set": "evaluation"` (model.multitrack.EVALUATION_SET_NAME
is the same name; a test keeps them equal).
"""

from dataclasses import dataclass


class ReservedSeedError(ValueError):
    """A seed that belongs to a fixed set was asked for anything but that set."""


@dataclass(frozen=True)
class SiblingSet:
    """A fixed set of sibling groups: rendered by `stemjepa synth OUT --set NAME`.

    Attributes:
        seed: seed of every group's plan and every member's arrangement.
        groups: groups of songs sharing one plan.
        siblings: songs per group with the plan itself.
        variants: songs per group with the plan transposed or at another tempo.
        duration: seconds per song.
        sample_rate: Hz of the written audio (the model's rate).
    """

    name: str
    seed: int
    groups: int
    siblings: int
    variants: int
    duration: float
    sample_rate: int

    @property
    def songs(self) -> int:
        return self.groups * (self.siblings + self.variants)


EVALUATION_SET = SiblingSet("evaluation", seed=7_100_001, groups=40, siblings=3, variants=2, duration=30.0,
                            sample_rate=16_000)
SELECTION_SET = SiblingSet("selection", seed=7_200_001, groups=24, siblings=3, variants=2, duration=30.0,
                           sample_rate=16_000)
FIXED_SETS: dict[str, SiblingSet] = {s.name: s for s in (EVALUATION_SET, SELECTION_SET)}
RESERVED_SEEDS: dict[int, str] = {s.seed: s.name for s in FIXED_SETS.values()}


def check_seed(seed: int, set_name: str | None) -> None:
    """Refuse a reserved seed outside its own set, and a set name with another seed.

    Raises:
        ReservedSeedError: when seed belongs to a fixed set other than set_name (or set_name is None), or
            set_name names a fixed set whose seed is not seed.
    """
    owner = RESERVED_SEEDS.get(seed)
    if owner is not None and owner != set_name:
        raise ReservedSeedError(
            f"seed {seed} is reserved for the {owner} set; render it with `--set {owner}` or choose another seed"
        )
    if set_name is not None:
        if set_name not in FIXED_SETS:
            raise ReservedSeedError(f"unknown set {set_name!r}; fixed sets: {', '.join(FIXED_SETS)}")
        if FIXED_SETS[set_name].seed != seed:
            raise ReservedSeedError(f"the {set_name} set has seed {FIXED_SETS[set_name].seed}, not {seed}")
