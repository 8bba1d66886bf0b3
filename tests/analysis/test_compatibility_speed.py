"""The musical similarities over candidates prepared once (analysis.compatibility.prepare, the query rotated
instead of every candidate) give the results of the code before them (compatibility_before), to rounding."""

import numpy as np
import pytest

from analysis import compatibility as compat
from evaluation.servebench import _features
from tests.analysis import compatibility_before as before

CONFORMS = [compat.Conform(), compat.Conform(5, 0.08), compat.Conform(6, 0.25, pitched=False),
            compat.Conform(3, 0.04, tempo_tolerance=0.02)]


def _rows(n: int, seed: int) -> np.ndarray:
    rows = _features(n, seed)
    rows[::7, compat.FEATURES.key_slice] = 0.0  # flat key profiles
    rows[::11, compat.FEATURES.column("bpm")] = 0.0  # unknown tempi
    return rows


@pytest.mark.parametrize("conform", CONFORMS)
def test_similarities_equal_the_code_before(conform: compat.Conform):
    q, rows = _rows(5, 1), _rows(3000, 2)
    old = before.similarities(q, rows, before.Conform(**conform.__dict__))
    for candidates in (rows, compat.prepare(rows)):
        new = compat.similarities(q, candidates, conform)
        for name, part in old.parts.items():
            np.testing.assert_allclose(new.parts[name], part, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(new.transpose, old.transpose)
        np.testing.assert_array_equal(new.stretch, old.stretch)
    assert not compat.similarities(q, rows, conform, rhythm=False).parts["rhythm"].any()


@pytest.mark.parametrize("conform", CONFORMS)
def test_shortlist_equals_the_code_before(conform: compat.Conform):
    rows = _rows(4000, 3)
    prepared = compat.prepare(rows)
    for weights in (compat.DEFAULT_WEIGHTS, compat.CompatWeights(1.0, 2.0, 0.5, 1.0, 0.3)):
        old_w = before.CompatWeights(**weights.__dict__)
        for q in _rows(4, 4):
            want = before.musical_shortlist(q, rows, old_w, 500, before.Conform(**conform.__dict__))
            np.testing.assert_array_equal(compat.musical_shortlist(q, prepared, weights, 500, conform), want)
    keep = np.arange(len(rows)) % 3 != 0
    np.testing.assert_array_equal(prepared.subset(keep).key, compat.prepare(rows[keep]).key)
