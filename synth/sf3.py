"""Conversion of a compressed SF3 soundfont (Ogg Vorbis samples) to a plain SF2 cached on disk.

FluidSynth decodes every Ogg sample of an SF3 each time it loads one, which made a MuseScore General stem
ten times slower to render than a FluidR3 stem; the decoded SF2 loads as fast as any other.
"""

import io
import logging
import struct
from pathlib import Path

import numpy as np
import soundfile as sf

from model.files import atomic_write_bytes

logger = logging.getLogger(__name__)

_SHDR = struct.Struct("<20sIIIIIBbHH")  # one 46-byte sample header
_COMPRESSED = 0x10  # sfSampleType bit of an Ogg Vorbis sample in SF3
_PAD = 46  # zero samples the SF2 spec requires after each sample


class SoundfontFormatError(ValueError):
    """A soundfont file is not the RIFF sfbk layout it should be."""


def _chunks(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(id, payload start, payload size) of the RIFF chunks between two offsets."""
    out = []
    while start + 8 <= end:
        cid, size = struct.unpack_from("<4sI", data, start)
        out.append((cid, start + 8, size))
        start += 8 + size + (size & 1)
    return out


def _chunk(id_: bytes, payload: bytes) -> bytes:
    return struct.pack("<4sI", id_, len(payload)) + payload + (b"\0" if len(payload) & 1 else b"")


def _list(kind: bytes, body: bytes) -> bytes:
    return _chunk(b"LIST", kind + body)


def convert_sf3(source: Path, target: Path) -> None:
    """Write target, an SF2 with the samples of SF3 source decoded to 16-bit PCM; other chunks are copied."""
    data = source.read_bytes()
    riff, _, form = struct.unpack_from("<4sI4s", data, 0)
    if riff != b"RIFF" or form != b"sfbk":
        raise SoundfontFormatError(f"{source} is not a soundfont")
    lists = {data[s : s + 4]: (s + 4, s + n) for cid, s, n in _chunks(data, 12, len(data)) if cid == b"LIST"}
    if not {b"INFO", b"sdta", b"pdta"} <= set(lists):
        raise SoundfontFormatError(f"{source} lacks an INFO, sdta or pdta list")
    smpl = next((s, n) for cid, s, n in _chunks(data, *lists[b"sdta"]) if cid == b"smpl")
    pdta = _chunks(data, *lists[b"pdta"])
    shdr = next((s, n) for cid, s, n in pdta if cid == b"shdr")
    pcm: list[np.ndarray] = []
    headers = []
    offset = 0
    for k in range(shdr[1] // _SHDR.size):
        name, start, end, loop_start, loop_end, rate, pitch, correction, link, kind = _SHDR.unpack_from(
            data, shdr[0] + k * _SHDR.size
        )
        if kind & _COMPRESSED:
            ogg = data[smpl[0] + start : smpl[0] + end]
            samples, _ = sf.read(io.BytesIO(ogg), dtype="int16")
            samples = samples if samples.ndim == 1 else samples[:, 0]
            # SF3 loop points count from the sample's own start; SF2 ones from the start of the smpl chunk.
            loop_start, loop_end = offset + loop_start, offset + loop_end
        else:
            samples = np.frombuffer(data, "<i2", (end - start), smpl[0] + 2 * start)
            loop_start, loop_end = offset + loop_start - start, offset + loop_end - start
        headers.append(
            _SHDR.pack(
                name,
                offset,
                offset + len(samples),
                loop_start,
                loop_end,
                rate,
                pitch,
                correction,
                link,
                kind & ~_COMPRESSED,
            )
        )
        pcm += [samples.astype("<i2"), np.zeros(_PAD, "<i2")]
        offset += len(samples) + _PAD
    info = b"".join(
        _chunk(cid, struct.pack("<HH", 2, 1) if cid == b"ifil" else data[s : s + n])
        for cid, s, n in _chunks(data, *lists[b"INFO"])
    )
    sdta = _chunk(b"smpl", np.concatenate(pcm).tobytes())
    pdta_body = b"".join(_chunk(cid, b"".join(headers) if cid == b"shdr" else data[s : s + n]) for cid, s, n in pdta)
    body = b"sfbk" + _list(b"INFO", info) + _list(b"sdta", sdta) + _list(b"pdta", pdta_body)
    # atomic, so a concurrent reader never sees half a file
    atomic_write_bytes(target, b"RIFF" + struct.pack("<I", len(body)) + body)
    logger.info("decoded %s to %s (%d samples)", source, target, len(headers))
