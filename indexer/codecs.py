"""Format 3 codecs: how the frame and alignment packs keep a stem's sequences in a few bits a value.

Each codec turns one stem's float rows [T, W] into byte codes [R, C] (uint8) and a few float32 parameters
[P] (kept per stem beside the pack), and back. Decoding is a table look-up or a small matrix product:
well under a millisecond for a few minutes of audio.

  SignFrames   model frames (unit rows, D values): a fixed orthogonal rotation (random signs, then a
               Walsh-Hadamard transform), one sign bit per rotated value (D / 8 bytes a frame); read back
               as the rotated-back +-1 vector, unit norm. The model's curve is a mean cosine over many frames,
               which sign bits keep (E[cos] is monotone in the true cosine) at 1/8 of the 8-bit rows.
  BandOnsets   onset rows [N, 1 + bands] at 10 ms: only the bands, averaged over `step` 10 ms steps, `bits`
               per value against the stem's largest magnitude per band (the parameters: N and the band
               scales); read back linearly interpolated to 10 ms, the full-band envelope as the z-scored sum
               of the bands (it only feeds the unfused fallback and the "has onsets" check).
  RowNibbles   chroma rows [M, 12] (unit, mean-removed): `step` rows averaged, 4 bits a value against the
               row's largest magnitude, which takes one more byte (0..255 of 1.0); read back interpolated to
               the 40 ms grid and re-normalised to unit rows.
"""

from dataclasses import dataclass
from functools import cache
from typing import Protocol

import numpy as np
import scipy.linalg

CODE_DTYPE = np.dtype(np.uint8)


class Codec(Protocol):
    """Rows [T, W] float <-> codes [rows(T), code_width] uint8 and `params` float32 values per stem."""

    @property
    def code_width(self) -> int: ...

    @property
    def params(self) -> int: ...

    def rows(self, n: int) -> int: ...

    def encode(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def decode(self, codes: np.ndarray, params: np.ndarray) -> np.ndarray: ...

    def bytes_per_row(self) -> float: ...


def _pack_nibbles(q: np.ndarray) -> np.ndarray:
    """Values 0..15 [R, W] -> bytes [R, ceil(W / 2)], two values a byte (first in the low nibble)."""
    if q.shape[1] % 2:
        q = np.concatenate([q, np.zeros((len(q), 1), q.dtype)], axis=1)
    return (q[:, 0::2] | (q[:, 1::2] << 4)).astype(np.uint8)


def _unpack_nibbles(b: np.ndarray, width: int) -> np.ndarray:
    """The inverse of `_pack_nibbles`: bytes [R, C] -> values 0..15 [R, width] (uint8)."""
    out = np.empty((len(b), 2 * b.shape[1]), np.uint8)
    out[:, 0::2] = b & 15
    out[:, 1::2] = b >> 4
    return out[:, :width]


def _pair_means(rows: np.ndarray, step: int) -> np.ndarray:
    """Means of consecutive groups of `step` rows (a last, shorter group is its own mean)."""
    if step == 1 or len(rows) == 0:
        return rows
    n = len(rows)
    full = n - n % step
    out = rows[:full].reshape(-1, step, rows.shape[1]).mean(axis=1)
    if full < n:
        out = np.concatenate([out, rows[full:].mean(axis=0, keepdims=True)])
    return out


def _upsample(coarse: np.ndarray, step: int, n: int) -> np.ndarray:
    """Rows at `step` times the spacing back to `n` rows by linear interpolation: group g's mean sits at the
    centre of its steps, (g + 0.5) step - 0.5."""
    if step == 1:
        return coarse[:n]
    at = (np.arange(n) + 0.5) / step - 0.5
    grid = np.arange(len(coarse), dtype=np.float64)
    return np.stack([np.interp(at, grid, col) for col in coarse.T], axis=1).astype(np.float32) \
        if len(coarse) else np.zeros((n, coarse.shape[1]), np.float32)


@cache
def _rotation(dim: int) -> np.ndarray:
    """[dim, P] orthonormal rows (P the next power of two): x @ R rotates a row (zero-padded to P); the
    signs come from a fixed integer hash, so every build and reader agrees without storing them."""
    p = 1 << max(0, (dim - 1).bit_length())
    signs = np.where((np.arange(p, dtype=np.uint64) * np.uint64(2654435761) >> np.uint64(13)) & np.uint64(1), 1.0, -1.0)
    h = scipy.linalg.hadamard(p).astype(np.float64) / np.sqrt(p)
    return (signs[:, None] * h)[:dim].astype(np.float32)


@dataclass(frozen=True)
class SignFrames:
    dim: int
    bits: int = 0  # sign bits kept a frame (the first rotated values); 0: all of them (dim rounded up to 2^k)

    @property
    def kept(self) -> int:
        p = _rotation(self.dim).shape[1]
        return min(self.bits, p) if self.bits else p

    @property
    def code_width(self) -> int:
        return -(-self.kept // 8)

    @property
    def params(self) -> int:
        return 0

    def rows(self, n: int) -> int:
        return n

    def encode(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rotated = np.asarray(rows, np.float32) @ _rotation(self.dim)[:, : self.kept]
        return np.packbits(rotated >= 0, axis=1), np.zeros(0, np.float32)

    def decode(self, codes: np.ndarray, params: np.ndarray) -> np.ndarray:
        rot = _rotation(self.dim)[:, : self.kept]
        bits = np.unpackbits(np.asarray(codes, np.uint8), axis=1, count=self.kept)
        rows = (bits.astype(np.float32) * 2.0 - 1.0) @ rot.T
        norm = np.linalg.norm(rows, axis=1, keepdims=True)
        return (rows / np.maximum(norm, 1e-9)).astype(np.float32)

    def bytes_per_row(self) -> float:
        return float(self.code_width)


@dataclass(frozen=True)
class BandOnsets:
    bands: int
    step: int = 2
    bits: int = 8

    @property
    def levels(self) -> int:
        return (1 << (self.bits - 1)) - 1  # symmetric: -levels..levels

    @property
    def code_width(self) -> int:
        return self.bands if self.bits == 8 else -(-self.bands // 2)

    @property
    def params(self) -> int:
        return 1 + self.bands  # row count at 10 ms, then each band's scale

    def rows(self, n: int) -> int:
        return -(-n // self.step)

    def encode(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(rows, np.float32)
        coarse = _pair_means(x[:, 1:], self.step)
        scale = np.abs(coarse).max(axis=0) / self.levels if len(coarse) else np.zeros(self.bands, np.float32)
        q = np.clip(np.rint(coarse / np.where(scale > 0, scale, 1.0)), -self.levels, self.levels).astype(np.int16)
        q = (q + self.levels + (self.bits == 8)).astype(np.uint8)  # 8 bits: 1..255, 4 bits: 1..15 (0 unused)
        codes = q if self.bits == 8 else _pack_nibbles(q)
        return codes, np.concatenate([[len(x)], scale]).astype(np.float32)

    def decode(self, codes: np.ndarray, params: np.ndarray) -> np.ndarray:
        q = np.asarray(codes, np.uint8) if self.bits == 8 else _unpack_nibbles(np.asarray(codes), self.bands)
        n, scale = int(params[0]), np.asarray(params[1:], np.float32)
        coarse = (q.astype(np.float32) - (self.levels + (self.bits == 8))) * scale
        bands = _upsample(coarse, self.step, n)
        total = bands.sum(axis=1)
        std = float(total.std())
        envelope = (total - total.mean()) / std if std > 0 else np.zeros(n, np.float32)
        return np.concatenate([envelope[:, None], bands], axis=1).astype(np.float32)

    def bytes_per_row(self) -> float:
        """Bytes per 10 ms row."""
        return self.code_width / self.step


@dataclass(frozen=True)
class RowNibbles:
    width: int
    step: int = 1

    @property
    def code_width(self) -> int:
        return -(-self.width // 2) + 1

    @property
    def params(self) -> int:
        return 1  # row count

    def rows(self, n: int) -> int:
        return -(-n // self.step)

    def encode(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(rows, np.float32)
        coarse = _pair_means(x, self.step)
        peak = np.abs(coarse).max(axis=1) if len(coarse) else np.zeros(0, np.float32)
        scale_code = np.clip(np.ceil(peak * 255.0), 0, 255).astype(np.uint8)  # ceil: |x| / scale <= 1
        scale = np.where(scale_code > 0, scale_code / 255.0, 1.0)[:, None]
        q = (np.clip(np.rint(coarse / scale * 7.0), -7, 7) + 8).astype(np.uint8)
        return np.concatenate([_pack_nibbles(q), scale_code[:, None]], axis=1), np.array([len(x)], np.float32)

    def decode(self, codes: np.ndarray, params: np.ndarray) -> np.ndarray:
        codes = np.asarray(codes, np.uint8)
        q = _unpack_nibbles(codes[:, :-1], self.width).astype(np.float32) - 8.0
        coarse = q * (codes[:, -1:].astype(np.float32) / (255.0 * 7.0))
        rows = _upsample(coarse, self.step, int(params[0]))
        norm = np.linalg.norm(rows, axis=1, keepdims=True)
        return np.where(norm > 1e-6, rows / np.maximum(norm, 1e-6), 0.0).astype(np.float32)

    def bytes_per_row(self) -> float:
        """Bytes per stored-grid row (40 ms for chroma)."""
        return self.code_width / self.step
