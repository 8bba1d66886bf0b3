"""Tests of SF3 to SF2 conversion on a tiny hand-made soundfont."""

import io
import struct
from pathlib import Path

import numpy as np
import soundfile as sf

from synth.sf3 import _SHDR, _chunk, _list, convert_sf3


def _tiny_sf3(path: Path, pcm: np.ndarray) -> None:
    ogg = io.BytesIO()
    sf.write(ogg, pcm, 22050, format="OGG", subtype="VORBIS")
    ogg_bytes = ogg.getvalue()
    headers = _SHDR.pack(b"sine", 0, len(ogg_bytes), 100, 900, 22050, 60, 0, 0, 1 | 0x10)
    headers += _SHDR.pack(b"EOS", 0, 0, 0, 0, 0, 0, 0, 0, 0)
    info = _chunk(b"ifil", struct.pack("<HH", 3, 1)) + _chunk(b"INAM", b"tiny\0\0")
    pdta = _chunk(b"phdr", b"\0" * 38) + _chunk(b"shdr", headers)
    body = b"sfbk" + _list(b"INFO", info) + _list(b"sdta", _chunk(b"smpl", ogg_bytes)) + _list(b"pdta", pdta)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def test_samples_are_decoded_and_offsets_rebased(tmp_path: Path) -> None:
    pcm = 0.5 * np.sin(np.arange(2000) / 10.0)
    _tiny_sf3(tmp_path / "t.sf3", pcm)
    convert_sf3(tmp_path / "t.sf3", tmp_path / "t.sf2")
    data = (tmp_path / "t.sf2").read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"sfbk"
    assert struct.unpack_from("<HH", data, data.index(b"ifil") + 8) == (2, 1)
    smpl = data.index(b"smpl")
    (size,) = struct.unpack_from("<I", data, smpl + 4)
    samples = np.frombuffer(data, "<i2", size // 2, smpl + 8)
    header = _SHDR.unpack_from(data, data.index(b"shdr") + 8)
    _, start, end, loop_start, loop_end, rate, _, _, _, kind = header
    assert (start, loop_start, loop_end, rate, kind) == (0, 100, 900, 22050, 1)
    assert abs(end - 2000) < 100  # Vorbis may pad a few frames
    decoded = samples[start:end] / 32768.0
    assert np.corrcoef(decoded[:1500], pcm[:1500])[0, 1] > 0.99
