"""Tests of sibling songs: a group's members share the plan in metadata and in sound, not in audio."""

import json
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf

from synth.batch import CorpusMismatchError, write_siblings
from synth.drums import CLOSED_HAT, KICK, PATTERNS, RIDE, SNARE, varied_pattern
from synth.siblings import (
    SIBLING,
    TEMPO_RATIOS,
    TRANSPOSITIONS,
    VARIANT,
    Member,
    SiblingCorpus,
    group_plan,
    make_member,
)
from synth.song import SongSettings
from tests.synth.conftest import needs_fluidsynth

SHARED = ("style", "key", "tonic", "mode", "tempo", "time_signature", "chords", "sections")


def _metadata(corpus: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sorted(corpus.glob("group_*/metadata.json"))}


def _mono(song: Path, *stems: str) -> tuple[np.ndarray, int]:
    waves = []
    for stem in stems:
        audio, rate = sf.read(song / f"{stem}.flac", dtype="float32", always_2d=True)
        waves.append(audio.mean(axis=1))
    return np.sum(waves, axis=0), rate


def _chroma(song: Path) -> np.ndarray:
    """Time-mean chroma [12] of the pitched stems, unit length."""
    audio, rate = _mono(song, "bass", "other", "vocals")
    chroma = librosa.feature.chroma_cqt(y=audio, sr=rate, tuning=0.0).mean(axis=1)
    return chroma / np.linalg.norm(chroma)


def _tempo(song: Path) -> float:
    audio, rate = _mono(song, "drums")
    (tempo,) = librosa.feature.tempo(onset_envelope=librosa.onset.onset_strength(y=audio, sr=rate), sr=rate)
    return float(tempo)


def _same_tempo(a: float, b: float, tolerance: float = 0.05) -> bool:
    """Equal within tolerance, allowing the half or double time that tempo estimators often land on."""
    return any(abs(a * factor / b - 1) <= tolerance for factor in (0.5, 1.0, 2.0))


@needs_fluidsynth
def test_siblings_share_key_tempo_meter_chords_and_sections_in_metadata(sibling_corpus: Path) -> None:
    meta = _metadata(sibling_corpus)
    assert sorted(meta) == [f"group_0000{g}_{m}" for g in range(2) for m in ("sib1", "sib2", "var1")]
    for group in range(2):
        sib1, sib2 = meta[f"group_0000{group}_sib1"], meta[f"group_0000{group}_sib2"]
        assert {k: sib1[k] for k in SHARED} == {k: sib2[k] for k in SHARED}
        for m in (sib1, sib2):
            assert (m["group"], m["role"], m["transpose_semitones"], m["tempo_ratio"]) == (group, SIBLING, 0, 1.0)
            assert m["set"] is None and m["source"] == "procedural"
        # Arranged and rendered apart: the members' instruments or sounds differ.
        assert sib1["stems"] != sib2["stems"] and sib1["room"] != sib2["room"]


@needs_fluidsynth
def test_siblings_agree_in_chroma_and_tempo_while_their_audio_differs(sibling_corpus: Path) -> None:
    songs = {p.name: p for p in sorted(sibling_corpus.glob("group_*"))}
    chroma = {n: _chroma(p) for n, p in songs.items()}
    for group in range(2):
        a, b = f"group_0000{group}_sib1", f"group_0000{group}_sib2"
        assert chroma[a] @ chroma[b] > 0.85, (a, b, chroma[a] @ chroma[b])
        tempo = json.loads((songs[a] / "metadata.json").read_text())["tempo"]
        assert _same_tempo(_tempo(songs[a]), _tempo(songs[b])), (a, b)
        assert _same_tempo(_tempo(songs[a]), tempo), (a, tempo)
        mix_a, _ = _mono(songs[a], "mixture")
        mix_b, _ = _mono(songs[b], "mixture")
        assert abs(np.corrcoef(mix_a, mix_b)[0, 1]) < 0.5
    # Songs of different groups share less harmony than siblings do.
    across = chroma["group_00000_sib1"] @ chroma["group_00001_sib1"]
    assert across < min(chroma[f"group_0000{g}_sib1"] @ chroma[f"group_0000{g}_sib2"] for g in range(2))


@needs_fluidsynth
def test_a_transposed_variant_sounds_like_its_siblings_rotated(sibling_corpus: Path) -> None:
    meta = _metadata(sibling_corpus)
    for group in range(2):
        ref, var = f"group_0000{group}_sib1", f"group_0000{group}_var1"
        shift = meta[var]["transpose_semitones"]
        assert meta[var]["role"] == VARIANT and shift in TRANSPOSITIONS and meta[var]["tempo_ratio"] == 1.0
        assert meta[var]["tonic"] == (meta[ref]["tonic"] + shift) % 12 and meta[var]["tempo"] == meta[ref]["tempo"]
        a, b = _chroma(sibling_corpus / ref), _chroma(sibling_corpus / var)
        assert np.roll(a, shift) @ b > 0.85
        assert np.roll(a, shift) @ b > a @ b


def test_variants_transpose_then_change_tempo_then_both() -> None:
    plan, shifts = group_plan(5, 3, 30.0, variants=4)
    assert group_plan(5, 3, 30.0, variants=1)[1] == shifts[:1]  # variant k does not depend on the count
    first, second, third, fourth = shifts
    assert first.transpose_semitones in TRANSPOSITIONS and first.tempo_ratio == 1.0
    assert second.transpose_semitones == 0 and any(lo <= second.tempo_ratio <= hi for lo, hi in TEMPO_RATIOS)
    assert third.transpose_semitones != 0 and third.tempo_ratio != 1.0
    assert fourth.transpose_semitones != 0 and fourth.tempo_ratio == 1.0
    moved = plan.transposed(first.transpose_semitones).at_tempo(second.tempo_ratio)
    assert moved.key.tonic == (plan.key.tonic + first.transpose_semitones) % 12 and moved.key.mode == plan.key.mode
    assert [c.root for c in moved.chords] == [(c.root + first.transpose_semitones) % 12 for c in plan.chords]
    assert moved.tempo == pytest.approx(plan.tempo * second.tempo_ratio) and moved.bars == plan.bars
    # The bars cover the song at the slowest variant tempo.
    assert moved.bars * moved.beats_per_bar * 60 / (plan.tempo * TEMPO_RATIOS[0][0]) >= 30.0


def test_varied_drum_patterns_keep_the_backbeat() -> None:
    rng = np.random.default_rng(0)
    for name, pattern in PATTERNS.items():
        for _ in range(5):
            varied = varied_pattern(pattern, rng)
            assert {len(s) for s in varied.values()} == {len(s) for s in pattern.values()}, name
            if SNARE in pattern:
                assert all(varied[SNARE][k] == c for k, c in enumerate(pattern[SNARE]) if c != "."), name
            if KICK in pattern:
                assert varied[KICK][0] == pattern[KICK][0], name
            hats = varied.get(CLOSED_HAT) or (varied.get(RIDE) if CLOSED_HAT in pattern else None)
            assert hats is None or hats[0] != ".", name
    changed = sum(varied_pattern(PATTERNS["rock"], np.random.default_rng(s)) != PATTERNS["rock"] for s in range(20))
    assert changed >= 15


@needs_fluidsynth
def test_members_render_identically_again_and_a_resume_with_other_settings_is_refused(
    sibling_corpus: Path, tmp_path: Path
) -> None:
    corpus = SiblingCorpus(seed=21, groups=2, siblings=2, variants=1)
    member = Member(1, VARIANT, 1)
    folder = tmp_path / member.name
    folder.mkdir()
    make_member(corpus, member, SongSettings(duration=8.0, sample_rate=16000), folder)
    for path in sorted(folder.iterdir()):
        assert path.read_bytes() == (sibling_corpus / member.name / path.name).read_bytes(), path.name
    other = SiblingCorpus(seed=21, groups=2, siblings=3, variants=1)
    with pytest.raises(CorpusMismatchError):
        write_siblings(sibling_corpus, other, SongSettings(duration=8.0, sample_rate=16000))
