"""Storage forms of a stem's alignment signature, for measuring what a smaller analysis store would cost in
alignment accuracy (scripts/alignment_sweep.py --stored): each form round-trips a signature's stored rows
(onset rows [N, 5] at 10 ms, chroma [M, 12] at 40 ms) through what the store would keep and reads them back
as the service does (Signature.from_stored rebuilds the accents from the bands).

  float32    no loss (the signature as computed)
  int8       today's analysis packs: 8-bit rows, each with its float16 scale (indexer.frames.quantise)
  int8-20ms  the onset rows averaged over pairs of 10 ms steps (half the rows), 8-bit, linearly interpolated
             back to 10 ms on reading; chroma as int8
  int4       onset and chroma rows at 4 bits (-7..7) with the row's scale
Bytes per hour of audio of each form: `bytes_per_hour`.
"""

from collections.abc import Callable

import numpy as np

from analysis.chroma import CHROMA_HOP_STEPS, ONSET_HOP_SECONDS
from analysis.signature import Signature
from indexer.frames import dequantise, quantise

FORMS = ("float32", "int8", "int8-20ms", "int4")


def _int8(rows: np.ndarray) -> np.ndarray:
    return dequantise(quantise(rows))


def _int4(rows: np.ndarray) -> np.ndarray:
    x = np.asarray(rows, dtype=np.float32)
    scale = (np.abs(x).max(axis=1, keepdims=True) / 7.0).astype(np.float16).astype(np.float32)
    safe = np.where(scale > 0, scale, 1.0)
    return np.clip(np.rint(x / safe), -7, 7) * scale


def _halved(rows: np.ndarray) -> np.ndarray:
    """Rows averaged over pairs, 8-bit, read back at the full rate by linear interpolation."""
    n = len(rows)
    pairs = rows[: n - n % 2].reshape(-1, 2, rows.shape[1]).mean(axis=1) if n >= 2 else rows
    coarse = _int8(pairs)
    at = (np.arange(n) - 0.5) / 2.0  # a pair's mean sits between its two steps
    return np.stack([np.interp(at, np.arange(len(coarse)), col) for col in coarse.T], axis=1).astype(np.float32)


def roundtrip(form: str) -> Callable[[Signature], Signature]:
    """The function that stores and reads back a signature in `form`."""
    if form not in FORMS:
        raise ValueError(f"unknown storage form {form!r}; choose from {', '.join(FORMS)}")

    def apply(sig: Signature) -> Signature:
        onsets, chroma = sig.onset_rows(), sig.chroma
        if form == "int8":
            onsets, chroma = _int8(onsets), _int8(chroma)
        elif form == "int8-20ms":
            onsets, chroma = _halved(onsets), _int8(chroma)
        elif form == "int4":
            onsets, chroma = _int4(onsets), _int4(chroma)
        return Signature.from_stored(onsets, chroma)

    return apply


def bytes_per_hour(form: str, bands: int = 4) -> float:
    """Bytes the onset and chroma rows of one hour of audio take in `form` (row scales included)."""
    onset_rows = 3600 / ONSET_HOP_SECONDS
    chroma_rows = onset_rows / CHROMA_HOP_STEPS
    width = 1 + bands
    if form == "float32":
        return 4 * (onset_rows * width + chroma_rows * 12)
    if form == "int8":
        return onset_rows * (width + 2) + chroma_rows * (12 + 2)
    if form == "int8-20ms":
        return onset_rows / 2 * (width + 2) + chroma_rows * (12 + 2)
    return onset_rows * (np.ceil(width / 2) + 2) + chroma_rows * (6 + 2)  # int4: two values a byte
