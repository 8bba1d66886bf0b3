"""The files scripts/scale_ab.py --legacy writes for 53cbbde's side (evaluation.legacyab), and the shared
worker loop's mix choice: what can be checked without a 53cbbde checkout."""

import io
import json

import numpy as np
import soundfile as sf

from evaluation import legacyab, scalecat
from evaluation.abclient import mix_bodies, mix_wav
from indexer.frames import FrameStore, pack_paths


def test_legacy_catalogue_points_at_float16_pool_frames_and_real_flacs(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a", "b"):  # two short "real stems" (1.5 s: a reuse's 20 s later start lands 0.5 s in)
        sf.write(source / f"{name}.wav", 0.1 * rng.standard_normal(33_075).astype(np.float32), 22_050)
    rows = scalecat.real_rows(None, seconds=4.0)
    lay = scalecat.layout(4.0, 0.16)
    pool = scalecat.write_pool(tmp_path, rows, 3, 16, lay, "float16")
    flacs = legacyab.write_flacs(tmp_path, source, 3, 4.0)
    folder = legacyab.write_legacy(tmp_path, 7, pool["frames"], flacs, ["bass", "drums"], 4.0, 16)

    for path in flacs:  # 44.1 kHz stereo 16-bit FLAC of the stems' length
        info = sf.info(path)
        assert (info.format, info.subtype, info.samplerate, info.channels) == ("FLAC", "PCM_16", 44_100, 2)
        assert info.frames == 4 * 44_100
    # file 2 reuses source a from a later start: not the same audio as file 0
    assert not np.array_equal(sf.read(flacs[0])[0], sf.read(flacs[2])[0])

    # 53cbbde's frame format: float16 rows, (id, first row, count) tables; stem i reads pool sequence i mod 3
    store = FrameStore(folder, ["frames"], 16)
    assert len(store) == 7
    pool_data = np.load(pack_paths(tmp_path / "pool-float16", pool["frames"])[0])
    assert pool_data.dtype == np.float16 and pool_data.shape == (3 * lay.frames, 16)
    assert np.array_equal(store.get(4), pool_data[lay.frames : 2 * lay.frames].astype(np.float32))
    assert not np.array_equal(store.get(4), store.get(5))

    spec = json.loads((folder / "catalogue.json").read_text())
    assert spec["stems"] == 7 and spec["vectors"] == "../vectors-7" and spec["instruments"] == ["bass", "drums"]
    assert [(folder / p).resolve() for p in spec["flacs"]] == [p.resolve() for p in flacs]
    assert legacyab.drop_cached(tmp_path, 7) >= sum(p.stat().st_size for p in flacs)

    # written once: a second call with the same recipe keeps the files
    before = [p.stat().st_mtime_ns for p in flacs]
    assert legacyab.write_flacs(tmp_path, source, 3, 4.0) == flacs
    assert [p.stat().st_mtime_ns for p in flacs] == before


def _tones_hz(body: bytes) -> frozenset[float]:
    """The four loudest frequencies of a 1 s mix (1 Hz bins)."""
    wave, rate = sf.read(io.BytesIO(body))
    return frozenset(float(b) * rate / len(wave) for b in np.argsort(np.abs(np.fft.rfft(wave)))[-4:])


def test_concurrent_clients_send_different_music_when_asked():
    one, four = mix_bodies(1.0, 1), mix_bodies(1.0, 4)
    assert one == [mix_wav(1.0, seed=0)]  # one mix: the mix every clients run sent before
    assert len(four) == 4 and len(set(four)) == 4
    # different chords, not only different noise (mix_wav's seeds share their tones)
    assert len({_tones_hz(b) for b in four}) > 1
    assert len({_tones_hz(mix_wav(1.0, seed=i)) for i in range(4)}) == 1
