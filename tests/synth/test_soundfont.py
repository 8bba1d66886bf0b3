"""Tests of the soundfont pool."""

from pathlib import Path

import numpy as np
import pytest

from synth.soundfont import NoSoundfontError, Soundfont, installed_soundfonts, pick_soundfont

_POOL = (Soundfont("gm", Path("gm.sf2"), False, 1.0), Soundfont("kit", Path("kit.sf2"), True, 1.0))


def test_drum_kits_serve_only_the_drum_stem() -> None:
    rng = np.random.default_rng(0)
    assert {pick_soundfont(rng, _POOL, drums=False).name for _ in range(50)} == {"gm"}
    assert {pick_soundfont(rng, _POOL, drums=True).name for _ in range(50)} == {"gm", "kit"}


def test_installed_pool_has_a_gm_font_or_says_so() -> None:
    try:
        pool = installed_soundfonts()
    except NoSoundfontError:
        pytest.skip("no soundfont installed")
    assert any(not sf.drum_kit for sf in pool)
    assert all(sf.render_path is not None and sf.render_path.suffix == ".sf2" for sf in pool)
