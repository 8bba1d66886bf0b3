"""Baselines measured in the same run as the model: random scores and an AutoMashupper-style mashability.

Mashability (after Davies et al., 2014, reduced to the two terms that need no chord or downbeat model):

    mashability(q, r) = 0.5 * cos(c_q, c_r) + 0.5 * exp(-d(tau_q, tau_r)^2 / (2 * sigma^2))

c = the time-mean constant-Q chroma [12] of the query mix or reference stem (harmonic agreement),
tau = the tempo in BPM from the onset-strength autocorrelation, d = |log2(tau_q / tau_r)| folded to the
nearest octave (half/double time are compatible), sigma = log2(1.04) (4 % tempo mismatch is one sigma).
A signal without a tempo estimate gets 0 for the tempo term. Features are computed once per signal.
"""

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

TEMPO_SIGMA = float(np.log2(1.04))


@dataclass(frozen=True)
class MashFeatures:
    """chroma: [N, 12] unit rows (zeros for silence); tempo: [N] BPM, 0 where none was found."""

    chroma: np.ndarray
    tempo: np.ndarray


def mash_features(waves: Sequence[np.ndarray], sample_rate: int) -> MashFeatures:
    """Chroma and tempo of each mono waveform [T] at `sample_rate` Hz."""
    import librosa  # heavy import: only the baseline needs it

    t0 = time.perf_counter()
    chroma, tempo = np.zeros((len(waves), 12), np.float32), np.zeros(len(waves), np.float32)
    for i, wave in enumerate(waves):
        if not np.any(wave):
            continue
        c = librosa.feature.chroma_cqt(y=wave, sr=sample_rate, hop_length=512, tuning=0.0).mean(axis=1)
        chroma[i] = c / max(float(np.linalg.norm(c)), 1e-9)
        onset = librosa.onset.onset_strength(y=wave, sr=sample_rate, hop_length=512)
        tempo[i] = float(np.atleast_1d(librosa.feature.tempo(onset_envelope=onset, sr=sample_rate, hop_length=512))[0])
    log.info("mashability features of %d signals in %.1f s", len(waves), time.perf_counter() - t0)
    return MashFeatures(chroma, tempo)


def tempo_agreement(tq: np.ndarray, tr: np.ndarray) -> np.ndarray:
    """[Q], [R] BPM -> [Q, R] in [0, 1]: Gaussian in octave-folded log2 tempo ratio; 0 if a tempo is 0."""
    valid = (tq[:, None] > 0) & (tr[None, :] > 0)
    ratio = np.log2(np.where(valid, tq[:, None], 1.0) / np.where(valid, tr[None, :], 1.0))
    d = np.abs(ratio - np.round(ratio))
    return np.where(valid, np.exp(-(d**2) / (2 * TEMPO_SIGMA**2)), 0.0)


def mashability(queries: MashFeatures, refs: MashFeatures) -> np.ndarray:
    """[Q, R] mashability scores (see the module docstring)."""
    harmonic = queries.chroma @ refs.chroma.T
    return (0.5 * harmonic + 0.5 * tempo_agreement(queries.tempo, refs.tempo)).astype(np.float64)


def random_scores(n_queries: int, n_refs: int, seed: int = 0) -> np.ndarray:
    """[Q, R] i.i.d. uniform scores: the chance level of every metric."""
    return np.random.default_rng(seed).random((n_queries, n_refs))
