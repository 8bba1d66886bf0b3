"""Format 3 codecs: how the frame and alignment packs keep a stem's sequences in a few bits a value.

Each codec turns one stem's float rows [T, W] into byte codes [R, C] (uint8) and a few float32 parameters
[P] (kept per stem beside the pack), and back. Decoding is array arithmetic and, for frames, one small
matrix product: about 2.5 ms of CPU to read and decode a 3-minute stem's frames, onsets and chroma, against
1.1 ms for format 2's 8-bit rows and 2.7 ms to build its signature's accents either way
(scripts/store_read_speed.py).

  RotatedFrames  model frames (unit rows, D values): a fixed orthogonal rotation (random signs, then a
               Walsh-Hadamard transform) spreads each frame evenly over its values, which are then close to
               N(0, 1/D): the first `kept` of them at 1 bit (the sign) or 2 bits (four Lloyd-Max levels), no
               scale needed; read back rotated back, unit norm. The model's curve is a mean cosine over many
               frames, which these keep (the decoded cosine is monotone in the true one).
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


@cache
def _nibble_values(offset: int) -> np.ndarray:
    """[256, 2] float32: a byte's two 4-bit values (`_unpack_nibbles`' order) less `offset`, exact small
    integers: what converting the unpacked values and subtracting gives, in one lookup per byte."""
    table = _unpack_nibbles(np.arange(256, dtype=np.uint8)[:, None], 2).astype(np.float32) - np.float32(offset)
    table.flags.writeable = False
    return table


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
    """Sequences [C, G] at `step` times the spacing back to [C, n] by linear interpolation along the last axis:
    group g's mean sits at the centre of its steps, (g + 0.5) step - 0.5; beyond the ends the end values hold.
    float32, one array operation per piece (a hit's onsets decode in a fraction of a millisecond)."""
    x = np.asarray(coarse, np.float32)
    if step == 1:
        return x[:, :n]
    out = np.empty((x.shape[0], n), np.float32)
    if not x.shape[1]:
        out[:] = 0.0
        return out
    if step == 2 and x.shape[1] == -(-n // 2):  # the stores' case, by slices: 3/4 of a value, 1/4 of a neighbour
        even, odd = out[:, 0::2], out[:, 1::2]  # even[g] = step 2g, odd[g] = step 2g + 1
        np.multiply(x, 0.75, out=even)
        even[:, 1:] += 0.25 * x[:, :-1]
        even[:, 0] += 0.25 * x[:, 0]
        m = odd.shape[1]
        if m:
            np.multiply(x[:, :m], 0.75, out=odd)
            odd[:, : m - 1] += 0.25 * x[:, 1:m]
            odd[:, m - 1] += 0.25 * x[:, min(m, x.shape[1] - 1)]
        return out
    at = (np.arange(n) + 0.5) / step - 0.5
    lo = np.floor(at).astype(np.int64)
    w = (at - lo).astype(np.float32)
    last = x.shape[1] - 1
    return x[:, np.clip(lo, 0, last)] * (1 - w) + x[:, np.clip(lo + 1, 0, last)] * w


@cache
def _rotation(dim: int) -> np.ndarray:
    """[dim, P] orthonormal rows (P the next power of two): x @ R rotates a row (zero-padded to P); the
    signs come from a fixed integer hash, so every build and reader agrees without storing them."""
    p = 1 << max(0, (dim - 1).bit_length())
    signs = np.where((np.arange(p, dtype=np.uint64) * np.uint64(2654435761) >> np.uint64(13)) & np.uint64(1), 1.0, -1.0)
    h = np.ones((1, 1))
    while len(h) < p:  # Sylvester's construction (scipy.linalg's hadamard, without loading LAPACK's modules)
        h = np.block([[h, h], [h, -h]])
    h /= np.sqrt(p)
    return (signs[:, None] * h)[:dim].astype(np.float32)


@cache
def _back_rotation(dim: int, kept: int) -> np.ndarray:
    """[kept, dim] contiguous: the first `kept` rotated values back to the frame's basis."""
    return np.ascontiguousarray(_rotation(dim)[:, :kept].T)


# Lloyd-Max levels of a unit Gaussian: the rotated values of a unit frame are close to N(0, 1 / P).
_LEVELS = {1: np.array([-1.0, 1.0], np.float32),
           2: np.array([-1.510, -0.4528, 0.4528, 1.510], np.float32)}


@dataclass(frozen=True)
class RotatedFrames:
    dim: int
    kept: int = 0  # rotated values kept a frame (the first ones); 0: all of them (dim rounded up to 2^k)
    bits: int = 1  # bits a value: 1 (its sign) or 2 (one of four Lloyd-Max levels)

    @property
    def values(self) -> int:
        p = _rotation(self.dim).shape[1]
        return min(self.kept, p) if self.kept else p

    @property
    def code_width(self) -> int:
        return -(-self.values * self.bits // 8)

    @property
    def params(self) -> int:
        return 0

    def rows(self, n: int) -> int:
        return n

    def encode(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = _rotation(self.dim).shape[1]
        rotated = (np.asarray(rows, np.float32) @ _rotation(self.dim)[:, : self.values]) * np.float32(np.sqrt(p))
        levels = _LEVELS[self.bits]
        q = np.searchsorted((levels[1:] + levels[:-1]) / 2, rotated).astype(np.uint8)  # nearest level
        return _pack_bits(q, self.bits), np.zeros(0, np.float32)

    def decode(self, codes: np.ndarray, params: np.ndarray) -> np.ndarray:
        codes = np.asarray(codes, np.uint8)
        table = _byte_levels(self.bits)
        levels = table[codes].reshape(len(codes), codes.shape[1] * table.shape[1])[:, : self.values]  # float32
        rows = levels @ _back_rotation(self.dim, self.values)
        rows /= np.sqrt(np.maximum(np.einsum("ij,ij->i", rows, rows), 1e-18))[:, None]
        return rows

    def bytes_per_row(self) -> float:
        return float(self.code_width)


@cache
def _byte_levels(bits: int) -> np.ndarray:
    """[256, 8 // bits] float32: the Lloyd-Max levels a code byte holds, in `_unpack_bits`' order, so that a
    frame's levels are one lookup per byte (the values `_LEVELS[bits][_unpack_bits(...)]` gives, without the
    unpacked codes in between)."""
    table = _LEVELS[bits][_unpack_bits(np.arange(256, dtype=np.uint8)[:, None], bits, 8 // bits)]
    table.flags.writeable = False
    return table


def _pack_bits(q: np.ndarray, bits: int) -> np.ndarray:
    """Values 0..2^bits - 1 [R, W] -> bytes [R, ceil(W bits / 8)], the first value in the highest bits."""
    if bits == 1:
        return np.packbits(q.astype(bool), axis=1)
    per = 8 // bits
    w = q.shape[1]
    padded = np.zeros((len(q), -(-w // per) * per), np.uint8)
    padded[:, :w] = q
    groups = padded.reshape(len(q), -1, per)
    shifts = (bits * np.arange(per - 1, -1, -1)).astype(np.uint8)
    return np.bitwise_or.reduce(groups << shifts, axis=2).astype(np.uint8)


def _unpack_bits(b: np.ndarray, bits: int, width: int) -> np.ndarray:
    """The inverse of `_pack_bits`: bytes [R, C] -> values [R, width] (uint8)."""
    if bits == 1:
        return np.unpackbits(b, axis=1, count=width)
    per = 8 // bits
    shifts = (bits * np.arange(per - 1, -1, -1)).astype(np.uint8)
    return ((b[:, :, None] >> shifts) & np.uint8((1 << bits) - 1)).reshape(len(b), -1)[:, :width]


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
        n, scale = int(params[0]), np.asarray(params[1:], np.float32)
        offset = self.levels + (self.bits == 8)
        if self.bits == 8:
            coarse = np.asarray(codes, np.uint8).T.astype(np.float32)  # [bands, G]: each band contiguous
            coarse -= offset
        else:  # each byte's two values, less the offset, from a table (unpacked and converted in one lookup)
            codes = np.asarray(codes, np.uint8)
            values = _nibble_values(offset)[codes].reshape(len(codes), 2 * codes.shape[1])[:, : self.bands]
            coarse = np.ascontiguousarray(values.T)
        coarse *= scale[:, None]
        out = np.empty((1 + self.bands, n), np.float32)
        out[1:] = _upsample(coarse, self.step, n)
        total = out[1:].sum(axis=0)
        std = float(total.std())
        if std > 0:
            np.subtract(total, total.mean(), out=out[0])
            out[0] /= std
        else:
            out[0] = 0.0
        return out.T  # [n, 1 + bands], a view whose transpose Signature.from_stored takes without a copy

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
        packed = codes[:, :-1]
        coarse = _nibble_values(8)[packed].reshape(len(codes), 2 * packed.shape[1])[:, : self.width]
        coarse *= codes[:, -1:]  # the row scale, /255 dropped: it cancels in the unit rows below
        rows = np.ascontiguousarray(_upsample(coarse.T, self.step, int(params[0])).T)
        norm = np.sqrt(np.einsum("ij,ij->i", rows, rows))[:, None]
        rows /= np.where(norm > 1e-6, norm, np.inf)
        return rows

    def bytes_per_row(self) -> float:
        """Bytes per stored-grid row (40 ms for chroma)."""
        return self.code_width / self.step
