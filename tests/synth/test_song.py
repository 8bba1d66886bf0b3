"""Tests that rendered stems sound like their class: key of `other`, tempo of `drums`, register of `bass`."""

import json
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

from synth.composer import Arrangement
from synth.key import estimate_key
from synth.song import SongSettings, _arrange, song_rng, write_song
from synth.stems import MIXTURE, STEMS
from synth.theory import Key
from tests.synth.conftest import needs_fluidsynth


def _mono(song: Path, stem: str) -> tuple[np.ndarray, int]:
    audio, rate = sf.read(song / f"{stem}.flac", dtype="float32", always_2d=True)
    return audio.mean(axis=1), rate


def _songs(corpus: Path) -> list[tuple[Path, dict]]:
    return [(s, json.loads((s / "metadata.json").read_text())) for s in sorted(corpus.glob("song_*"))]


def test_song_rng_depends_on_seed_and_index() -> None:
    assert song_rng(1, 2).random() == song_rng(1, 2).random()
    assert song_rng(1, 2).random() != song_rng(2, 1).random()


@needs_fluidsynth
def test_other_stem_key_agrees_with_metadata(procedural_corpus: Path) -> None:
    agree = 0
    songs = _songs(procedural_corpus)
    for song, metadata in songs:
        audio, rate = _mono(song, "other")
        chroma = librosa.feature.chroma_cqt(y=audio, sr=rate).sum(axis=1)
        tonic, mode = estimate_key(chroma)
        # Modal songs (dorian, mixolydian) and power chords blur major/minor, so agreement means the same
        # key signature (relative and modal keys) or the same tonic (parallel keys).
        same_signature = Key(tonic, mode).scale_set() == Key(metadata["tonic"], metadata["mode"]).scale_set()
        agree += same_signature or tonic == metadata["tonic"]
    assert agree >= 0.6 * len(songs), f"key agreed on {agree} of {len(songs)} songs"


@needs_fluidsynth
def test_drum_onsets_follow_the_tempo(procedural_corpus: Path) -> None:
    agree = 0
    songs = _songs(procedural_corpus)
    for song, metadata in songs:
        audio, rate = _mono(song, "drums")
        envelope = librosa.onset.onset_strength(y=audio, sr=rate)
        onsets = librosa.onset.onset_detect(onset_envelope=envelope, sr=rate, units="time")
        beats_per_second = metadata["tempo"] / 60
        # At least one onset per beat; sixteenth hats, ghost notes and humanised flams give up to about six.
        assert beats_per_second * 0.8 <= len(onsets) / metadata["duration"] <= beats_per_second * 6
        (tempo,) = librosa.feature.tempo(onset_envelope=envelope, sr=rate)
        ratios = tempo / metadata["tempo"] / np.array([0.5, 1.0, 2.0, 1.5, 2 / 3])
        agree += bool(np.any(np.abs(ratios - 1) < 0.06))
    assert agree >= 0.6 * len(songs), f"tempo agreed on {agree} of {len(songs)} songs"


@needs_fluidsynth
def test_bass_energy_sits_below_300_hz(procedural_corpus: Path) -> None:
    for song, _ in _songs(procedural_corpus):
        audio, rate = _mono(song, "bass")
        power = np.abs(librosa.stft(audio, n_fft=4096)) ** 2
        freqs = librosa.fft_frequencies(sr=rate, n_fft=4096)
        low = power[freqs < 300].sum() / power.sum()
        assert low > 0.6, f"{song.name}: only {low:.0%} of the bass energy below 300 Hz"


@needs_fluidsynth
def test_a_stem_left_without_a_part_is_drawn_again(tmp_path: Path) -> None:
    # MIDI-corpus and mma arrangements can leave a stem without a part (seed 1000, song 163 did, and stopped a
    # 200-song corpus at 162): it renders silent, so the song is drawn again instead of failing.
    settings = SongSettings(duration=4.0, sample_rate=16_000, sources={"procedural": 1.0})
    rng = song_rng(5, 0)

    def arrange(attempt: int, workdir: Path) -> tuple[Arrangement, str]:
        arrangement, source = _arrange(rng, "procedural", settings, (), workdir)
        if attempt == 0:
            arrangement = Arrangement({**arrangement.parts, "drums": []}, arrangement.music)
        return arrangement, source

    metadata = write_song(tmp_path, rng, settings, arrange, {"index": 0, "seed": 5})
    assert metadata["attempts"] == 2 and metadata["stems"]["drums"]["instrument"] == "drum kit"
    assert sorted(p.name for p in tmp_path.glob("*.flac")) == sorted(f"{s}.flac" for s in (*STEMS, MIXTURE))
