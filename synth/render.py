"""Rendering of one MIDI file to audio with the FluidSynth command line in fast-render mode."""

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from synth.soundfont import Soundfont


class FluidSynthError(RuntimeError):
    """FluidSynth is missing or failed to render."""


@dataclass(frozen=True)
class Room:
    """FluidSynth's reverb and chorus units for one song (the per-stem amount is the MIDI send level)."""

    reverb_room: float
    reverb_damp: float
    reverb_width: float
    reverb_level: float
    chorus_depth: float
    chorus_level: float
    chorus_speed: float


def fluidsynth_binary() -> str:
    """Path of the fluidsynth executable (Debian package fluidsynth)."""
    path = shutil.which("fluidsynth")
    if path is None:
        raise FluidSynthError("fluidsynth not found on PATH; install the Debian package fluidsynth")
    return path


def render_midi(midi: Path, soundfont: Soundfont, room: Room, sample_rate: int, workdir: Path) -> np.ndarray:
    """Render a MIDI file alone; returns float32 audio [2, T] at sample_rate Hz, not clipped."""
    out = workdir / (midi.stem + ".wav")
    settings = {
        "synth.sample-rate": sample_rate,
        "synth.gain": 0.5,
        # Load only the samples the song plays: a big soundfont then costs a tenth of a second, not seconds.
        "synth.dynamic-sample-loading": 1,
        "synth.cpu-cores": 1,
        "synth.reverb.active": 1,
        "synth.reverb.room-size": room.reverb_room,
        "synth.reverb.damp": room.reverb_damp,
        "synth.reverb.width": room.reverb_width,
        "synth.reverb.level": room.reverb_level,
        "synth.chorus.active": 1,
        "synth.chorus.depth": room.chorus_depth,
        "synth.chorus.level": room.chorus_level,
        "synth.chorus.speed": room.chorus_speed,
        # Float output is neither dithered (which would be random) nor clipped; gain is set when mixing.
        "audio.file.format": "float",
        "audio.file.type": "wav",
    }
    command = [fluidsynth_binary(), "-n", "-i", "-q", "-F", str(out)]
    for name, value in settings.items():
        command += ["-o", f"{name}={value}"]
    command += [str(soundfont.render_path or soundfont.path), str(midi)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not out.is_file():
        raise FluidSynthError(f"fluidsynth failed on {midi} with {soundfont.name}: {result.stderr[-500:]}")
    audio, rate = sf.read(out, dtype="float32", always_2d=True)
    out.unlink()
    if rate != sample_rate:
        raise FluidSynthError(f"fluidsynth wrote {rate} Hz instead of {sample_rate} Hz")
    return np.ascontiguousarray(audio.T)
