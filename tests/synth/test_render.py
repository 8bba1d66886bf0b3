"""Tests of FluidSynth rendering."""

from pathlib import Path

import numpy as np

from synth.render import Room, render_midi
from synth.score import Note, Part, write_midi
from synth.soundfont import installed_soundfonts
from tests.synth.conftest import needs_fluidsynth

_ROOM = Room(0.5, 0.3, 0.8, 0.5, 8.0, 1.0, 0.5)


@needs_fluidsynth
def test_a_note_renders_stereo_at_the_rate_and_identically_twice(tmp_path: Path) -> None:
    midi = tmp_path / "a.mid"
    write_midi([Part(0, False, [Note(0.1, 0.5, 69, 100)])], midi, 30, 10, drums_as_melodic=False)
    gm = next(sf for sf in installed_soundfonts() if sf.name == "FluidR3_GM")
    audio = render_midi(midi, gm, _ROOM, 16000, tmp_path)
    assert audio.shape[0] == 2 and audio.shape[1] >= 16000 * 0.6
    assert np.abs(audio[:, :1000]).max() < 1e-3 < np.abs(audio).max()  # silent before the note at 0.1 s
    spectrum = np.abs(np.fft.rfft(audio[0, 1600:9600]))
    assert abs(np.argmax(spectrum) * 16000 / 8000 - 440) < 10  # A4
    np.testing.assert_array_equal(audio, render_midi(midi, gm, _ROOM, 16000, tmp_path))
