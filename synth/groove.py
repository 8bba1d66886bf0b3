"""Accompaniments from MMA (Musical MIDI Accompaniment): a random chord chart played in a random groove."""

import logging
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from synth.arranger import split_classes
from synth.composer import Arrangement, make_plan
from synth.gm import VOICE_PROGRAMS
from synth.melody import melody_part
from synth.midi import read_midi

logger = logging.getLogger(__name__)

# MMA library grooves (Debian package mma) by our style names; waltz grooves for 3/4 plans.
GROOVES: dict[str, tuple[str, ...]] = {
    "rock": ("50sRock", "60sRock", "BasicRock", "8Beat", "FolkRock", "SoftRock", "BubbleRock", "Twist"),
    "pop": ("8Beat", "PopBallad", "SoftRock", "BoneyM"),
    "funk": ("BVFunk", "Strut", "R&B"),
    "disco": ("BoneyM", "Trance"),
    "jazz": ("Swing", "JazzCombo", "Bebop", "ModernJazz", "EasySwing", "BigBand", "JazzRock"),
    "blues": ("Blues", "SlowBlues", "CountryBlues", "BlueFolk"),
    "latin": ("BossaNova", "Rhumba", "Salsa", "Mambo", "ChaCha", "Son", "Merengue", "Calypso"),
    "reggae": ("Ska",),
    "electronic": ("Trance",),
    "ballad": ("Ballad", "PianoBallad", "RockBallad", "StringBallad", "GuitarBallad"),
    "country": ("CountrySwing", "BlueGrass", "Zydeco", "Folk"),
}
WALTZ_GROOVES = ("Waltz", "JazzWaltz", "CountryWaltz", "FrenchWaltz", "ArpeggioWaltz", "RockWaltz")


class MmaError(RuntimeError):
    """MMA is missing or failed on a chart."""


def mma_available() -> bool:
    return shutil.which("mma") is not None


def _chart(tempo: float, groove: str, chords: list[str], seed: int) -> str:
    # MMA humanises timing and velocity with Python's random module, seeded from the clock unless the
    # chart says RndSeed: without it the same song seed renders different MIDI on every run.
    lines = [f"RndSeed {seed}", f"Tempo {tempo:g}", f"Groove {groove}"]
    lines += [f"{bar + 1} {symbol}" for bar, symbol in enumerate(chords)]
    return "\n".join(lines) + "\n"


def mma_arrangement(rng: np.random.Generator, duration: float, workdir: Path) -> Arrangement:
    """MMA's bass, drums and chords for a random plan, with a procedural sung melody over the same chords."""
    style = str(rng.choice(sorted(GROOVES)))
    plan = make_plan(rng, duration, style)
    groove = str(rng.choice(WALTZ_GROOVES if plan.beats_per_bar == 3 else GROOVES[style]))
    chart = workdir / "chart.mma"
    midi = workdir / "chart.mid"
    chart.write_text(_chart(plan.tempo, groove, [c.symbol for c in plan.chords], int(rng.integers(2**31))))
    mma = shutil.which("mma")
    if mma is None:
        raise MmaError("mma not found on PATH; install the Debian package mma")
    result = subprocess.run([mma, "-f", str(midi), str(chart)], capture_output=True, text=True, check=False)
    if result.returncode != 0 or not midi.is_file():
        raise MmaError(f"mma failed on groove {groove}: {result.stdout[-300:]} {result.stderr[-300:]}")
    parts, _, _ = read_midi(midi.read_bytes())
    classes = split_classes(parts)
    # MMA grooves have no lead line to speak of: whatever it judged a lead stays with the accompaniment.
    classes["other"] += classes["vocals"]
    voice = int(rng.choice(VOICE_PROGRAMS, p=[0.35, 0.35, 0.2, 0.1]))
    classes["vocals"] = [melody_part(plan, rng, voice)]
    music: dict[str, Any] = {**plan.describe(duration), "style": style, "groove": groove}
    return Arrangement(classes, music)
