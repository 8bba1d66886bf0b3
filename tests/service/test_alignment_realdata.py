"""Alignment on real stems: a MUSDB stem trimmed by a known amount lines up with the rest of its song.

The catalogue is the 30 songs of musdb18-7/valid (their .stem.mp4 streams) plus the drums of one song with
1.28 s and 2.00 s cut from the start, written as separate wavs; the query is the mix of that song's other
stems. The returned offset must be within +-0.08 s of the cut. An untrained model cannot align, so this
uses the bundled trained checkpoint (STEMJEPA_ALIGNMENT_CHECKPOINT overrides it) and skips without one.
"""

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from model.audio import read_streams
from model.checkpoint import default_checkpoint_path
from service.app import create_app
from service.settings import ServiceSettings, load_settings
from tests.conftest import MUSDB_VALID, require

SONG = "ANiMAL - Rockshow"
STREAMS = {"drums": 1, "bass": 2, "other": 3, "vocals": 4}  # MUSDB stream order; 0 is the mixture
TARGET = "drums"
CUTS = (1.28, 2.00)
TOLERANCE = 0.08


def checkpoint() -> Path:
    path = Path(os.environ.get("STEMJEPA_ALIGNMENT_CHECKPOINT") or default_checkpoint_path())
    if not path.is_file():
        pytest.skip(f"no trained checkpoint at {path}: alignment needs the bundled trained model (an untrained one "
                    "cannot align); set STEMJEPA_ALIGNMENT_CHECKPOINT to use another")
    return path


@pytest.fixture(scope="module")
def trimmed_offsets(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, dict[float, list[float]]]:
    """Offsets the service returns for the two trimmed copies of the stem, with placement off and on (one index,
    one query each)."""
    tmp_path = tmp_path_factory.mktemp("alignment")
    valid = require(MUSDB_VALID)
    ckpt = checkpoint()
    source = valid / f"{SONG}.stem.mp4"
    require(source)
    catalogue = tmp_path / "catalogue"
    catalogue.mkdir()
    for f in sorted(valid.glob("*.stem.mp4")):
        (catalogue / f.name).symlink_to(f)
    streams = read_streams(source)
    sr = streams[0].sample_rate
    for cut in CUTS:
        folder = catalogue / f"{SONG} (trimmed {cut:.2f} s)"
        folder.mkdir()
        target = streams[STREAMS[TARGET]].samples[:, round(cut * sr):]
        sf.write(folder / f"{TARGET}.wav", target.T, sr)
    mix = sum(streams[i].samples for name, i in STREAMS.items() if name != TARGET)
    query = tmp_path / "query.wav"
    sf.write(query, np.asarray(mix).T, sr)

    from tests.service.conftest import index_into

    settings = load_settings(index_dir=tmp_path / "index", db_url=f"sqlite:///{tmp_path / 'catalogue.sqlite'}",
                             checkpoint=ckpt, device="cpu", cache_dir=tmp_path / "cache", load_in_background=False,
                             refine_top=100)
    index_into(settings, catalogue)
    return {placement: _offsets(settings.model_copy(update={"placement": placement}), query)
            for placement in (False, True)}


def _offsets(settings: ServiceSettings, query: Path) -> dict[float, list[float]]:
    """The offsets (best first, then the runners-up) the service returns for each trimmed copy."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        r = client.post("/retrieve", files={"file": ("query.wav", query.read_bytes(), "audio/wav")},
                        data={"instrument": TARGET, "k": "100"})
        assert r.status_code == 200, r.text
        results = r.json()["results"]
    found = {}
    for res in results:
        for cut in CUTS:
            if f"trimmed {cut:.2f} s" in (res["title"] or "") + str(res["song_id"]):
                found[cut] = res
    if len(found) < len(CUTS):  # titles may be absent: fall back to the stem listing
        with TestClient(create_app(settings)) as client:
            stems = client.get("/stems", params={"q": "trimmed", "limit": 10}).json()["items"]
        by_id = {res["stem_id"]: res for res in results}
        for stem in stems:
            for cut in CUTS:
                if f"trimmed {cut:.2f} s" in (stem["song_key"] or ""):
                    found[cut] = by_id[stem["id"]]
    offsets = {cut: [found[cut]["offset_seconds"], *found[cut]["offset_alternatives_seconds"]] for cut in CUTS}
    print(f"\nalignment (placement {settings.placement}):",
          {cut: [round(o, 3) for o in found] for cut, found in offsets.items()})
    return offsets


# The fused curve's peak (model curve + band onsets + accents, no chroma for drums; STEMJEPA_PLACEMENT=false) was
# chosen on MUSDB train songs with scripts/alignment_sweep.py, never on this song. The previous fusion, without
# accents, found the 2.00 s cut 153 ms early; with the shipped compact model this one finds 1.278 s and 2.000 s.
@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.parametrize("cut", CUTS)
def test_trimmed_stem_offset_is_found_within_80_ms(trimmed_offsets: dict[bool, dict[float, list[float]]],
                                                   cut: float) -> None:
    assert trimmed_offsets[False][cut][0] == pytest.approx(cut, abs=TOLERANCE)


# Placement (the service's default since issue 17) was fitted on development data only and first run on this
# song after every choice was made: from store format 2 packs it found the 2.00 s cut and put the 1.28 s one at
# 0.022 s (the right offset its first runner-up), a regression this test kept visible as an expected failure.
# From store format 3 packs (onsets at 20 ms, chosen on MUSDB train and dev data only) it finds both: 1.278 s
# and 1.999 s.
@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.parametrize("cut", CUTS)
def test_placement_finds_the_trimmed_stem_within_80_ms(trimmed_offsets: dict[bool, dict[float, list[float]]],
                                                       cut: float) -> None:
    assert trimmed_offsets[True][cut][0] == pytest.approx(cut, abs=TOLERANCE)


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.parametrize("cut", CUTS)
def test_placement_returns_the_trimmed_stems_offset_among_its_offsets(
        trimmed_offsets: dict[bool, dict[float, list[float]]], cut: float) -> None:
    assert any(abs(o - cut) <= TOLERANCE for o in trimmed_offsets[True][cut])
