"""Storage forms of a stem's frames and signature for the accuracy sweep: round trips keep shapes and stay close
to the original; the format 3 forms are the store's own codecs."""

import numpy as np
import pytest

from analysis.signature import Signature
from evaluation.storeforms import (
    FORMS,
    FRAME_FORMS,
    StoreForm,
    bytes_per_hour,
    frame_bytes_per_hour,
    frame_roundtrip,
    roundtrip,
)
from indexer.analyses import CODECS


def _signature(n: int = 1000) -> Signature:
    rng = np.random.default_rng(0)
    chroma = np.abs(rng.standard_normal((n // 4, 12))).astype(np.float32)
    return Signature.from_stored(rng.standard_normal((n, 5)).astype(np.float32),
                                 chroma / np.linalg.norm(chroma, axis=1, keepdims=True))


@pytest.mark.parametrize("form", FORMS)
def test_roundtrip_keeps_the_shapes(form: str):
    sig = _signature()
    back = roundtrip(form)(sig)
    assert back.bands.shape == sig.bands.shape and back.chroma.shape == sig.chroma.shape
    assert back.accents.shape == sig.accents.shape and back.envelope.shape == sig.envelope.shape


def test_losses_grow_as_the_forms_shrink():
    sig = _signature()
    err = {f: float(np.abs(roundtrip(f)(sig).chroma - sig.chroma).max()) for f in ("float32", "int8", "int4")}
    assert err["float32"] == 0 and err["int8"] < err["int4"] < 0.2
    smooth = np.repeat(sig.onset_rows()[::2], 2, axis=0)  # slow rows survive the halved rate
    for form in ("int8-20ms", "format3"):
        halved = roundtrip(form)(Signature.from_stored(smooth, sig.chroma))
        assert np.corrcoef(halved.bands[0], Signature.from_stored(smooth, sig.chroma).bands[0])[0, 1] > 0.9
    sizes = [bytes_per_hour(f) for f in FORMS[:4]]
    assert sizes[0] > sizes[1] > max(sizes[2], sizes[3])
    assert bytes_per_hour("int8") == pytest.approx(2.52e6 + 1.26e6)
    assert bytes_per_hour("o8s2-c2") == pytest.approx(360_000 * 4 / 2 + 90_000 * 7 / 2)
    assert bytes_per_hour("format3") == pytest.approx(360_000 * CODECS["onsets"].bytes_per_row()
                                                      + 90_000 * CODECS["chroma"].bytes_per_row())
    with pytest.raises(ValueError):
        roundtrip("int2")


def test_frame_forms_and_the_frames_slash_signature_syntax():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((40, 128)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    cos = {f: float(np.mean(np.sum(frame_roundtrip(f)(x) * x, axis=1))) for f in FRAME_FORMS}
    assert cos["float32"] == pytest.approx(1.0) and cos["int8"] > 0.99 and 0.7 < cos["sign"] < 0.9
    assert frame_bytes_per_hour("int8") == 130 * 22_500 and frame_bytes_per_hour("sign") == 16 * 22_500
    assert frame_bytes_per_hour("format3") == frame_bytes_per_hour("int2-96") == 24 * 22_500
    assert cos["int2-96"] > cos["sign"]
    form = StoreForm.parse("sign/format3")
    assert form.name == "sign/format3" and form.frames(x).shape == x.shape
    assert StoreForm.parse("int8").frames(x) is not None
    with pytest.raises(ValueError):
        StoreForm.parse("int4/int8")
