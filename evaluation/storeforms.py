"""Storage forms of a stem's alignment data, for measuring what a smaller store costs in alignment accuracy
(scripts/alignment_sweep.py --stored, scripts/store_forms.py): each form round-trips a stem's model frames
[T, D] and its signature's stored rows (onset rows [N, 5] at 10 ms, chroma [M, 12] at 40 ms) through what the
store would keep and reads them back as the service does (Signature.from_stored rebuilds the accents).

A form is written FRAMES/SIGNATURE (or SIGNATURE alone: the frames as computed, float32).
Frame forms:
  float32    no loss
  int8       format 2 packs: 8-bit rows with their float16 scale (indexer.frames.quantise)
  sign       sign bits of a fixed rotation, one per value (indexer.codecs.RotatedFrames): 16 B a frame at 128
  sign{K}    the first K of those bits (sign64: 8 B a frame)
  int2-{K}   the first K rotated values at 2 bits (int2-96: 24 B a frame)
  format3    the shipped choice (indexer.frames.frame_codec)
Signature forms:
  float32    no loss
  int8       format 2 packs: 8-bit rows, each with its float16 scale
  int8-20ms  the onset rows averaged over pairs of 10 ms steps (half the rows), 8-bit, linearly interpolated
             back to 10 ms on reading; chroma as int8
  int4       onset and chroma rows at 4 bits (-7..7) with the row's scale
  o{B}s{S}-c{C}  format 3 codecs: band onsets at B bits (8 or 4) averaged over S 10 ms steps
             (indexer.codecs.BandOnsets), chroma at 4 bits with a one-byte row scale averaged over C 40 ms
             rows (RowNibbles); `format3` is the shipped choice (indexer.analyses.CODECS)
Bytes per hour of audio of each form: `bytes_per_hour` (signatures), `frame_bytes_per_hour` (frames).
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from analysis.chroma import CHROMA_HOP_STEPS, ONSET_HOP_SECONDS
from analysis.music import StoredAnalysis
from analysis.signature import Signature
from evaluation.excerpts import AlignmentInputs
from indexer.analyses import CODECS
from indexer.codecs import BandOnsets, Codec, RotatedFrames, RowNibbles
from indexer.frames import dequantise, frame_codec, quantise

FORMS = ("float32", "int8", "int8-20ms", "int4", "format3", "o8s2-c1", "o8s2-c2", "o4s2-c1", "o4s2-c2", "o8s1-c1")
FRAME_FORMS = ("float32", "int8", "sign", "sign64", "int2-64", "int2-96", "format3")
_ROTATED_FORM = re.compile(r"(sign|int2-)(\d*)$")
_CODEC_FORM = re.compile(r"o([48])s([12])-c([12])$")


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


def _coded(codec: Codec, rows: np.ndarray) -> np.ndarray:
    codes, params = codec.encode(rows)
    return codec.decode(codes, params)


def signature_codecs(form: str) -> tuple[Codec, Codec] | None:
    """(onset codec, chroma codec) of a format 3 signature form, None for the other forms."""
    if form == "format3":
        return CODECS["onsets"], CODECS["chroma"]
    m = _CODEC_FORM.match(form)
    if m is None:
        return None
    return BandOnsets(bands=4, step=int(m[2]), bits=int(m[1])), RowNibbles(width=12, step=int(m[3]))


def roundtrip(form: str) -> Callable[[Signature], Signature]:
    """The function that stores and reads back a signature in `form`."""
    if form not in FORMS and _CODEC_FORM.match(form) is None:
        raise ValueError(f"unknown storage form {form!r}; choose from {', '.join(FORMS)}")
    codecs = signature_codecs(form)

    def apply(sig: Signature) -> Signature:
        onsets, chroma = sig.onset_rows(), sig.chroma
        if codecs is not None:
            onsets, chroma = _coded(codecs[0], onsets), _coded(codecs[1], chroma)
        elif form == "int8":
            onsets, chroma = _int8(onsets), _int8(chroma)
        elif form == "int8-20ms":
            onsets, chroma = _halved(onsets), _int8(chroma)
        elif form == "int4":
            onsets, chroma = _int4(onsets), _int4(chroma)
        return Signature.from_stored(onsets, chroma)

    return apply


def frame_roundtrip(form: str) -> Callable[[np.ndarray], np.ndarray]:
    """The function that stores and reads back a stem's frames [T, D] in `form` (float32 out)."""
    if form not in FRAME_FORMS and _ROTATED_FORM.match(form) is None:
        raise ValueError(f"unknown frame form {form!r}; choose from {', '.join(FRAME_FORMS)}")

    def apply(frames: np.ndarray) -> np.ndarray:
        x = np.asarray(frames, dtype=np.float32)
        if form == "int8":
            return _int8(x)
        codec = frame_form_codec(form, x.shape[1])
        return x if codec is None else _coded(codec, x)

    return apply


def frame_form_codec(form: str, frame_dim: int) -> RotatedFrames | None:
    """The format 3 codec of a frame form (None for float32 and int8)."""
    if form == "format3":
        return frame_codec(frame_dim)
    m = _ROTATED_FORM.match(form)
    if m is None:
        return None
    return RotatedFrames(frame_dim, int(m[2] or 0), 1 if m[1] == "sign" else 2)


@dataclass(frozen=True)
class StoreForm:
    """One storage form of a stem's frames and signature, FRAMES/SIGNATURE (see the module's doc)."""

    name: str
    frames: Callable[[np.ndarray], np.ndarray]
    signature: Callable[[Signature], Signature]

    @classmethod
    def parse(cls, text: str) -> "StoreForm":
        frames, _, sig = text.rpartition("/")
        return cls(text, frame_roundtrip(frames or "float32"), roundtrip(sig))

    def stored(self, x: AlignmentInputs) -> AlignmentInputs:
        """A prepared case (evaluation.excerpts) with its stem's frames and signature as this form keeps them."""
        sig = self.signature(x.stem.signature())
        stem = StoredAnalysis(x.stem.features, sig.onset_rows(), sig.chroma, x.stem.beats)
        return replace(x, stem_frames=self.frames(x.stem_frames), stem=stem)


def bytes_per_hour(form: str, bands: int = 4) -> float:
    """Bytes the onset and chroma rows of one hour of audio take in `form` (row scales included; per-stem
    parameters, a few bytes a stem, left out)."""
    onset_rows = 3600 / ONSET_HOP_SECONDS
    chroma_rows = onset_rows / CHROMA_HOP_STEPS
    width = 1 + bands
    codecs = signature_codecs(form)
    if codecs is not None:
        return onset_rows * codecs[0].bytes_per_row() + chroma_rows * codecs[1].bytes_per_row()
    if form == "float32":
        return 4 * (onset_rows * width + chroma_rows * 12)
    if form == "int8":
        return onset_rows * (width + 2) + chroma_rows * (12 + 2)
    if form == "int8-20ms":
        return onset_rows / 2 * (width + 2) + chroma_rows * (12 + 2)
    return onset_rows * (np.ceil(width / 2) + 2) + chroma_rows * (6 + 2)  # int4: two values a byte


def frame_bytes_per_hour(form: str, frame_dim: int = 128, frame_seconds: float = 0.16) -> float:
    """Bytes the frames of one hour of audio take in frame form `form`."""
    codec = frame_form_codec(form, frame_dim)
    per_row = codec.code_width if codec is not None else {"float32": 4 * frame_dim, "int8": frame_dim + 2}[form]
    return 3600 / frame_seconds * per_row
