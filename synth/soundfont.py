"""The pool of installed soundfonts each stem's instrument sounds are drawn from."""

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from synth.sf3 import convert_sf3

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Soundfont:
    """A soundfont file; a drum kit holds one kit as a bank-0 preset and only serves the drum stem.

    Attributes:
        path: the installed file.
        render_path: the file FluidSynth loads: path itself, or for an SF3 its decoded SF2 copy.
    """

    name: str
    path: Path
    drum_kit: bool
    weight: float
    render_path: Path | None = None


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


def cache_dir() -> Path:
    """Where decoded soundfonts are kept: $STEMJEPA_CACHE_DIR/soundfonts, else ~/.cache/stemjepa/soundfonts."""
    root = os.environ.get("STEMJEPA_CACHE_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "stemjepa") / "soundfonts"


def _decoded(path: Path) -> Path:
    """The SF2 copy of an SF3, made on first use (about 500 MB and 20 s for MuseScore General)."""
    source = path.resolve()
    target = cache_dir() / f"{source.stem}-{source.stat().st_size}.sf2"
    if not target.is_file():
        logger.info("decoding %s once into %s", source, target)
        convert_sf3(source, target)
    return target


def installed_soundfonts() -> tuple[Soundfont, ...]:
    """The candidates present on this machine, in a fixed order so draws from them are reproducible."""
    found = tuple(
        replace(sf, render_path=_decoded(sf.path) if sf.path.suffix == ".sf3" else sf.path)
        for sf in _CANDIDATES
        if sf.path.is_file()
    )
    if not any(not sf.drum_kit for sf in found):
        raise NoSoundfontError("no General MIDI soundfont found; install fluid-soundfont-gm")
    return found


def pick_soundfont(rng: np.random.Generator, pool: tuple[Soundfont, ...], drums: bool) -> Soundfont:
    """Draw a soundfont for one stem by weight; drum kits are eligible for the drum stem only."""
    eligible = [sf for sf in pool if drums or not sf.drum_kit]
    weights = np.array([sf.weight for sf in eligible])
    return eligible[int(rng.choice(len(eligible), p=weights / weights.sum()))]
