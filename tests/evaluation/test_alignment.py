"""Shift curves, peak refinement and offset recovery, with a transparent stub embedder and the tiny model."""

import numpy as np
import pytest

from evaluation.alignment import evaluate_alignment, refined_peak, shift_curve
from evaluation.report import write_alignment_report
from evaluation.songs import EvalSong
from model.embed import Embedder, Embedding

SR = 16_000
FRAME = 2560  # 160 ms at 16 kHz


BANDS = 48
BINS = (FRAME // 2) // BANDS  # FFT bins per band; one bin is SR / FRAME = 6.25 Hz


class BlockEmbedder:
    """Frames = the magnitude spectrum of each 160 ms block pooled into 48 bands, for stems and mixes
    alike, so a stem and a mix made of the same signal match exactly when aligned."""

    sample_rate = SR
    frame_seconds = FRAME / SR

    def _embed(self, wave: np.ndarray) -> Embedding:
        n = len(wave) // FRAME
        spec = np.abs(np.fft.rfft(wave[: n * FRAME].reshape(n, FRAME), axis=1))[:, :-1]  # [n, 1280]
        f = spec[:, : BANDS * BINS].reshape(n, BANDS, BINS).sum(axis=2)
        f /= np.linalg.norm(f, axis=1, keepdims=True)
        v = f.mean(axis=0)
        return Embedding(v / np.linalg.norm(v), f)

    def embed_stems(self, waves, encoder=None):
        return [self._embed(w) for w in waves]

    def predict(self, mixes, instruments):
        return [self._embed(m) for m in mixes]


def tone_sequence(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """A new random tone every 160 ms, each at the centre of one of the 48 bands."""
    n = int(seconds / 0.16)
    band_hz = BINS * SR / FRAME
    freqs = (rng.integers(2, BANDS - 1, n) + 0.5) * band_hz
    t = np.arange(FRAME) / SR
    return np.concatenate([np.sin(2 * np.pi * f * t) for f in freqs]).astype(np.float32) * 0.1


def twin_songs(n: int, seconds: float = 12.0) -> list[EvalSong]:
    """Songs of two identical stems: the mix of the others is the stem itself."""
    rng = np.random.default_rng(1)
    out = []
    for i in range(n):
        x = tone_sequence(rng, seconds)
        out.append(EvalSong(f"s{i}", {"bass": x, "other": x.copy()}))
    return out


def test_shift_curve_peaks_at_the_known_lag():
    rng = np.random.default_rng(2)
    pred = rng.standard_normal((60, 16))
    pred /= np.linalg.norm(pred, axis=1, keepdims=True)
    stem = pred[7:47]  # stem frame t = prediction frame t + 7
    curve = shift_curve(stem, pred, max_lag=20, min_overlap=5)
    assert int(np.nanargmax(curve)) - 20 == 7
    assert curve[27] == pytest.approx(1.0)
    short = shift_curve(stem[:6], pred[:6], max_lag=3, min_overlap=5)
    assert np.isnan(short[0]) and np.isfinite(short[3])


def test_refined_peak_finds_the_vertex_between_samples():
    x = np.arange(11, dtype=float)
    assert refined_peak(-((x - 4.3) ** 2)) == pytest.approx(4.3)
    assert refined_peak(np.array([3.0, 1.0, 0.0])) == 0.0


def test_alignment_with_matching_frames_peaks_at_zero_and_recovers_offsets():
    report = evaluate_alignment(BlockEmbedder(), twin_songs(3), max_shift_s=5.0, trials=4, seed=0)  # type: ignore[arg-type]
    assert report["songs_peaking_at_zero_pct"] == 100.0
    assert report["similarity_at_zero"] == pytest.approx(1.0, abs=1e-5)
    assert abs(report["unrelated_at_zero"]) < 0.1
    off = report["offset_recovery"]
    assert off["trials"] == 24
    assert off["within_frame_pct"] == 100.0  # both signs of shift, sub-frame amounts
    assert off["median_abs_error_s"] < 0.08


def test_alignment_report_with_the_tiny_model(eval_songs, tiny_checkpoint, tmp_path):
    embedder = Embedder.from_checkpoint(tiny_checkpoint, device="cpu")
    report = evaluate_alignment(embedder, eval_songs, max_shift_s=32.0, trials=1)
    assert report["max_shift_s"] < 3.0  # limited by 3 s of audio, not by the 32 s asked for
    assert len(report["lags_s"]) == len(report["mean_curve"]) == 2 * round(report["max_shift_s"] / 0.16) + 1
    assert 0 <= report["songs_peaking_at_zero_pct"] <= 100
    files = write_alignment_report(report, tmp_path)
    assert {f.name for f in files} >= {"alignment.json", "alignment.md", "alignment_curves.png", "offset_errors.png"}


def test_fusion_spec_parses_weights_and_the_confidence_exponent():
    from analysis.alignment import CONFIDENCE_EXPONENT
    from evaluation.alignment import FusionSpec

    assert FusionSpec.parse("8:8:4") == FusionSpec(8.0, 8.0, 4.0, CONFIDENCE_EXPONENT)
    assert FusionSpec.parse("8:5.6:0:0").exponent == 0.0
    assert FusionSpec.parse("8:5.6:0:0").name == "onset 8 harmony 5.6 accent 0 conf^0"
    with pytest.raises(ValueError, match="ONSET:HARMONY:ACCENT"):
        FusionSpec.parse("8:8")


def test_beat_period_of_a_click_track_with_off_beat_accents():
    """A 112 BPM pulse whose every bar also carries an off-beat stab: the estimate is the beat, not the
    stab's spacing nor a half beat."""
    from analysis.tempo import beat_seconds

    sr, beat = 16_000, 60 / 112
    wave = np.zeros(int(30 * sr), dtype=np.float32)
    click = np.hanning(160).astype(np.float32)
    times = list(np.arange(0.2, 29.5, beat)) + list(np.arange(0.2 + 2.5 * beat, 29.5, 4 * beat))
    for t in times:
        i = int(t * sr)
        wave[i : i + 160] += click
    assert beat_seconds(wave, sr) == pytest.approx(beat, abs=0.011)
