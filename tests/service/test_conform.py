"""Conformed stems: Rubber Band transposes and time-stretches a stem, and exports place it at the mix's time
zero, at the right sample, pitch and tempo (measured on the exported audio)."""

import io
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from service.conform import Conformer, Conforming, place
from service.errors import ServiceError
from service.stemaudio import StemAudio

SR = 44_100
BEAT = 0.5  # the stem's clicks: one every 0.5 s from 0.5 s on
needs_rubberband = pytest.mark.skipif(shutil.which("rubberband") is None,
                                      reason="Rubber Band's command-line tool (Debian rubberband-cli) is not installed")


def _stem(folder: Path, seconds: float = 6.0) -> SimpleNamespace:
    """A stereo stem: a 440 Hz tone and a 4 ms click every BEAT s from BEAT on."""
    t = np.arange(int(SR * seconds)) / SR
    wave = 0.2 * np.sin(2 * np.pi * 440 * t)
    n = int(0.004 * SR)
    click = np.hanning(2 * n)[n:] * 0.8 * np.sign(np.sin(2 * np.pi * 3000 * t[:n]))
    for start in np.arange(BEAT, seconds, BEAT):
        i = int(start * SR)
        wave[i : i + n] += click
    path = folder / "stem.wav"
    sf.write(path, np.stack([wave, wave], axis=1).astype(np.float32), SR)
    return SimpleNamespace(id=7, path=str(path), stream=None, instrument="other")


def _clicks(wave: np.ndarray, sr: int) -> np.ndarray:
    """Times (s) of the clicks: where the first difference jumps, one per 0.2 s."""
    env = np.abs(np.diff(wave))
    idx = np.flatnonzero(env > 0.3 * env.max())
    starts = [idx[0]]
    for i in idx[1:]:
        if i - starts[-1] > 0.2 * sr:
            starts.append(i)
    return np.asarray(starts) / sr


def _pitch(wave: np.ndarray, sr: int) -> float:
    seg = wave[int(2.0 * sr) : int(4.0 * sr)]
    spectrum = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
    freqs = np.fft.rfftfreq(len(seg), 1 / sr)
    band = (freqs > 300) & (freqs < 700)
    return float(freqs[band][np.argmax(spectrum[band])])


@needs_rubberband
@pytest.mark.parametrize("fmt", ["wav", "flac"])
def test_an_export_starts_at_the_offset_at_the_conformed_pitch_and_tempo(tmp_path: Path, fmt: str) -> None:
    stem = _stem(tmp_path)
    conformer = Conformer(StemAudio(tmp_path / "cache"), tmp_path / "cache")
    offset, stretch, semitones = 1.25, 1.05, 2
    data = conformer.export(stem, Conforming(semitones, stretch), offset, 10.0, fmt)  # type: ignore[arg-type]
    audio, sr = sf.read(io.BytesIO(data))
    assert sr == SR and audio.shape == (10 * SR, 2)
    wave = audio[:, 0]
    clicks = _clicks(wave, sr)
    assert abs(clicks[0] - (offset + BEAT / stretch)) <= 0.001  # the first click, 1 ms
    np.testing.assert_allclose(np.diff(clicks)[:8], BEAT / stretch, atol=0.002)  # the tempo
    assert _pitch(wave, sr) == pytest.approx(440 * 2 ** (semitones / 12), abs=1.0)  # the pitch
    assert not wave[: int(offset * sr) - 10].any()  # silence before the stem starts


@needs_rubberband
def test_a_negative_offset_cuts_the_stem_start_and_the_conformed_file_is_cached(tmp_path: Path) -> None:
    stem = _stem(tmp_path)
    conformer = Conformer(StemAudio(tmp_path / "cache"), tmp_path / "cache")
    data = conformer.export(stem, Conforming(0, 1.0), -0.75, None, "wav")
    audio, sr = sf.read(io.BytesIO(data))
    assert abs(_clicks(audio[:, 0], sr)[0] - (2 * BEAT - 0.75)) <= 0.001
    path, media = conformer.file_for(stem, Conforming(-3, 0.9))
    again, _ = conformer.file_for(stem, Conforming(-3, 0.9))
    assert media == "audio/flac" and path == again and path.stat().st_mtime_ns == again.stat().st_mtime_ns
    assert conformer.file_for(stem, Conforming())[0] == Path(stem.path)  # nothing to change: the file itself


def test_without_rubberband_conforming_is_refused_with_503(tmp_path: Path) -> None:
    stem = _stem(tmp_path)
    conformer = Conformer(StemAudio(tmp_path / "cache"), tmp_path / "cache", rubberband="")
    assert conformer.file_for(stem, Conforming())[0] == Path(stem.path)
    with pytest.raises(ServiceError) as err:
        conformer.file_for(stem, Conforming(1, 1.0))
    assert err.value.status == 503 and err.value.code == "conforming_unavailable"


def test_place_pads_cuts_and_fits_the_duration() -> None:
    x = np.arange(1, 11, dtype=np.float32)[None, :]  # 10 samples at 10 Hz
    np.testing.assert_array_equal(place(x, 10, 0.3, None)[0], [0, 0, 0, *range(1, 11)])
    np.testing.assert_array_equal(place(x, 10, -0.3, 0.5)[0], [4, 5, 6, 7, 8])
    np.testing.assert_array_equal(place(x, 10, 0.8, 1.2)[0], [0] * 8 + [1, 2, 3, 4])
    assert place(x, 10, -2.0, 0.3).shape == (1, 3) and not place(x, 10, -2.0, 0.3).any()


@needs_rubberband
def test_the_api_serves_conformed_audio_and_exports(client: TestClient) -> None:
    stem = client.get("/stems", params={"limit": 1}).json()["items"][0]
    conformed = client.get(stem["audio_url"], params={"transpose": 2, "stretch": 1.05})
    assert conformed.status_code == 200 and conformed.headers["content-type"] == "audio/flac"
    part = client.get(stem["audio_url"], params={"transpose": 2, "stretch": 1.05}, headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and len(part.content) == 10
    export = client.get(f"/stems/{stem['id']}/export", params={"offset": 0.5, "duration": 4.0, "format": "flac"})
    assert export.status_code == 200 and "attachment" in export.headers["content-disposition"]
    audio, sr = sf.read(io.BytesIO(export.content))
    assert audio.shape[0] == 4 * sr and not audio[: int(0.5 * sr) - 1].any()
    for bad in ({"transpose": 13}, {"stretch": 3}, {"offset": "nan"}, {"format": "mp3"}):
        r = client.get(f"/stems/{stem['id']}/export", params=bad)
        assert r.status_code == 422 and r.json()["error"]["status"] == 422
