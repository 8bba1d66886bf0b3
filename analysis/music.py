"""`analyse`: the one waveform -> musical facts path (tempo, beats, downbeats, key, pitch-class summary,
loudness and the alignment signature) used at index time, at query time, in evaluation and in scripts.

Work is shared: one STFT at the model rate gives the onset envelopes (signature, tempo, beats, downbeats),
one resampling to 4 kHz feeds both the alignment chroma and the pitch-class summary (key, harmony).
"""

from dataclasses import dataclass

import numpy as np

from analysis.beats import BeatGrid, find_downbeats, stored_grid, track_beats
from analysis.chroma import (
    CHROMA_HOP_STEPS,
    ONSET_HOP_SECONDS,
    centred_unit,
    chroma_frames,
    pitch_class_summary,
    to_chroma_rate,
)
from analysis.key import KeyEstimate, best_key, camelot, key_profile
from analysis.signature import Signature, signature_from, spectral_flux
from analysis.tempo import FOLD_BINS, TempoEstimate, estimate_tempo
from model.audio import rms_dbfs

# Bumped whenever an estimator changes, so stored analyses from older code are redone by the indexer.
ANALYSIS_VERSION = 1
SILENCE_DBFS = -120.0  # the loudness stored for digital silence (whose RMS level is -inf)


@dataclass(frozen=True)
class Analysis:
    """Musical facts of one mono waveform.

    tempo: BPM, confidence and octave-folded tempogram; grid: beats, meter and downbeat; key_profile: [24]
    correlations with the major (0-11) and minor (12-23) key templates, C first; key: the best of them;
    chroma: [12] mean pitch-class profile (C first), mean-removed, unit norm; loudness_dbfs: RMS level;
    duration_seconds; signature: the alignment features.
    """

    tempo: TempoEstimate
    grid: BeatGrid
    key_profile: np.ndarray
    key: KeyEstimate
    chroma: np.ndarray
    loudness_dbfs: float
    duration_seconds: float
    signature: Signature

    @property
    def bpm(self) -> float:
        return self.tempo.bpm

    def vector(self) -> np.ndarray:
        """The comparable facts as one float32 row (layout: FEATURES)."""
        return FEATURES.pack(self)

    def stored(self) -> "StoredAnalysis":
        """The compact form the index keeps (float16 envelopes and chroma; accents are rebuilt on reading)."""
        return StoredAnalysis(self.vector(), self.signature.onset_rows().astype(np.float16),
                              self.signature.chroma.astype(np.float16),
                              self.grid.beats.astype(np.float32).reshape(-1, 1))


@dataclass(frozen=True)
class StoredAnalysis:
    """An analysis as the index stores it: features [F] float32 (layout FEATURES), onsets [N, 5] float16
    (full-band and band envelopes, 10 ms), chroma [M, 12] float16 (40 ms) and beats [B, 1] float32 (s)."""

    features: np.ndarray
    onsets: np.ndarray
    chroma: np.ndarray
    beats: np.ndarray

    def signature(self) -> Signature:
        return Signature.from_stored(self.onsets, self.chroma)

    def grid(self) -> BeatGrid:
        """The stored beat grid: beats, meter and first downbeat (its confidence is not stored: 0)."""
        return stored_grid(self.beats, int(self.features[FEATURES.column("beats_per_bar")]),
                           float(self.features[FEATURES.column("downbeat_seconds")]))

    def facts(self) -> dict[str, float | int | str | None]:
        """The scalar facts the catalogue database keeps (columns of the stems table)."""
        return facts_of(self.features)


def facts_of(features: np.ndarray) -> dict[str, float | int | str | None]:
    """bpm, bpm_confidence, key (name), key_mode, camelot, key_confidence, loudness_dbfs, beat_period,
    beats_per_bar and downbeat_seconds of one feature row (layout FEATURES); key None for a flat profile."""
    row = np.asarray(features, dtype=np.float64)
    value = {name: float(row[i]) for i, name in enumerate(FEATURES.scalars)}
    profile = row[FEATURES.key_slice]
    key = best_key(profile.astype(np.float32)) if np.any(profile) else None
    return {
        "bpm": round(value["bpm"], 2),
        "bpm_confidence": round(value["bpm_confidence"], 4),
        "key": key.name if key else None,
        "key_mode": key.mode if key else None,
        "camelot": camelot(key.key) if key else None,
        "key_confidence": round(value["key_confidence"], 4),
        "loudness_dbfs": round(value["loudness_dbfs"], 2),
        "beat_period": round(value["beat_period"], 4),
        "beats_per_bar": int(value["beats_per_bar"]),
        "downbeat_seconds": round(value["downbeat_seconds"], 4),
    }


@dataclass(frozen=True)
class FeatureLayout:
    """Where each fact sits in the stored feature row: scalars first, then the key profile, the pitch-class
    summary and the folded tempogram."""

    scalars: tuple[str, ...] = ("bpm", "bpm_confidence", "key_confidence", "loudness_dbfs", "beat_period",
                                "beats_per_bar", "downbeat_seconds")

    @property
    def key_slice(self) -> slice:
        return slice(len(self.scalars), len(self.scalars) + 24)

    @property
    def chroma_slice(self) -> slice:
        return slice(self.key_slice.stop, self.key_slice.stop + 12)

    @property
    def tempogram_slice(self) -> slice:
        return slice(self.chroma_slice.stop, self.chroma_slice.stop + FOLD_BINS)

    @property
    def width(self) -> int:
        return self.tempogram_slice.stop

    def column(self, name: str) -> int:
        return self.scalars.index(name)

    def pack(self, a: Analysis) -> np.ndarray:
        row = np.zeros(self.width, np.float32)
        row[: len(self.scalars)] = (a.tempo.bpm, a.tempo.confidence, a.key.confidence,
                                    max(a.loudness_dbfs, SILENCE_DBFS), a.grid.period or a.tempo.beat_seconds,
                                    a.grid.beats_per_bar, a.grid.first_downbeat)
        row[self.key_slice] = a.key_profile
        row[self.chroma_slice] = a.chroma
        row[self.tempogram_slice] = a.tempo.folded
        return row


FEATURES = FeatureLayout()


def analyse(wave: np.ndarray, sample_rate: int) -> Analysis:
    """Everything `Analysis` holds, for a mono waveform [T] at `sample_rate` Hz."""
    wave = np.asarray(wave, dtype=np.float32)
    flux = spectral_flux(wave, sample_rate)
    low = to_chroma_rate(wave, sample_rate)
    chroma_seq = chroma_frames(low, len(wave), sample_rate) if flux is not None else np.zeros((1, 12), np.float32)
    sig = signature_from(flux, chroma_seq)
    tempo = estimate_tempo(sig.envelope, ONSET_HOP_SECONDS)
    beats = track_beats(sig.envelope, ONSET_HOP_SECONDS, tempo.bpm)
    grid = find_downbeats(beats, sig.bands[0], ONSET_HOP_SECONDS, sig.chroma, CHROMA_HOP_STEPS * ONSET_HOP_SECONDS)
    summary = pitch_class_summary(low)
    profile = key_profile(summary)
    return Analysis(
        tempo=tempo,
        grid=grid,
        key_profile=profile,
        key=best_key(profile),
        chroma=centred_unit(summary),
        loudness_dbfs=float(rms_dbfs(wave)) if len(wave) else -np.inf,
        duration_seconds=len(wave) / sample_rate,
        signature=sig,
    )
