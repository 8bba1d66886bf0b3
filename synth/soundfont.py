"""The pool of installed soundfonts each stem's instrument sounds are drawn from."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Soundfont:
    """A soundfont file; a drum kit holds one kit as a bank-0 preset and only serves the drum stem."""

    name: str
    path: Path
    drum_kit: bool
    weight: float


# Debian packages fluid-soundfont-gm, musescore-general-soundfont, timgm6mb-soundfont, avldrums.lv2-soundfont
_CANDIDATES = (
    Soundfont("FluidR3_GM", Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"), False, 0.4),
    Soundfont("MuseScore_General", Path("/usr/share/sounds/sf3/MuseScore_General.sf3"), False, 0.3),
    Soundfont("TimGM6mb", Path("/usr/share/sounds/sf2/TimGM6mb.sf2"), False, 0.3),
    Soundfont("AVL_Black_Pearl", Path("/usr/share/sounds/sf2/Black_Pearl_4_LV2.sf2"), True, 0.25),
    Soundfont("AVL_Red_Zeppelin", Path("/usr/share/sounds/sf2/Red_Zeppelin_4_LV2.sf2"), True, 0.25),
)


class NoSoundfontError(RuntimeError):
    """No General MIDI soundfont is installed."""


def installed_soundfonts() -> tuple[Soundfont, ...]:
    """The candidates present on this machine, in a fixed order so draws from them are reproducible."""
    found = tuple(sf for sf in _CANDIDATES if sf.path.is_file())
    if not any(not sf.drum_kit for sf in found):
        raise NoSoundfontError("no General MIDI soundfont found; install fluid-soundfont-gm")
    return found


def pick_soundfont(rng: np.random.Generator, pool: tuple[Soundfont, ...], drums: bool) -> Soundfont:
    """Draw a soundfont for one stem by weight; drum kits are eligible for the drum stem only."""
    eligible = [sf for sf in pool if drums or not sf.drum_kit]
    weights = np.array([sf.weight for sf in eligible])
    return eligible[int(rng.choice(len(eligible), p=weights / weights.sum()))]
