"""Storage forms of a signature for the accuracy sweep: round trips keep shapes and stay close to the original."""

import numpy as np
import pytest

from analysis.signature import Signature
from evaluation.storeforms import FORMS, bytes_per_hour, roundtrip


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
    assert back.accents.shape == sig.accents.shape


def test_losses_grow_as_the_forms_shrink():
    sig = _signature()
    err = {f: float(np.abs(roundtrip(f)(sig).chroma - sig.chroma).max()) for f in ("float32", "int8", "int4")}
    assert err["float32"] == 0 and err["int8"] < err["int4"] < 0.2
    smooth = np.repeat(sig.onset_rows()[::2], 2, axis=0)  # slow rows survive the halved rate
    halved = roundtrip("int8-20ms")(Signature.from_stored(smooth, sig.chroma))
    assert np.corrcoef(halved.bands[0], Signature.from_stored(smooth, sig.chroma).bands[0])[0, 1] > 0.9
    sizes = [bytes_per_hour(f) for f in FORMS]
    assert sizes[0] > sizes[1] > max(sizes[2], sizes[3])
    assert bytes_per_hour("int8") == pytest.approx(2.52e6 + 1.26e6)
    with pytest.raises(ValueError):
        roundtrip("int2")
