import numpy as np
import pytest
import soundfile as sf

from model.audio import load_mono, read_audio, read_streams, rms_dbfs
from model.errors import AudioDecodeError
from tests.conftest import MUSDB_TRAIN, require


def test_decodes_and_resamples_wav(tmp_path):
    sr = 44_100
    wave = np.sin(2 * np.pi * 440 * np.arange(sr) / sr).astype(np.float32) * 0.5
    sf.write(tmp_path / "a.wav", np.stack([wave, wave], 1), sr)
    mono = load_mono(tmp_path / "a.wav", 16_000)
    assert mono.shape == (16_000,)
    assert abs(rms_dbfs(mono) - rms_dbfs(wave)) < 0.1


@pytest.mark.parametrize("content, reason", [(b"", "empty"), (b"hello, this is text", "not a readable")])
def test_bad_files_raise_domain_error_naming_the_file(tmp_path, content, reason):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioDecodeError) as err:
        read_audio(path)
    assert str(path) in str(err.value)


def test_nan_samples_are_rejected(tmp_path):
    sf.write(tmp_path / "nan.wav", np.full(1000, np.nan, dtype=np.float32), 16_000, subtype="FLOAT")
    with pytest.raises(AudioDecodeError, match="NaN"):
        read_audio(tmp_path / "nan.wav")


def test_file_without_audio_stream(tmp_path):
    import av

    path = tmp_path / "video.mp4"
    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=5)
        s.width, s.height = 32, 32
        for _ in range(3):
            for p in s.encode(av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    with pytest.raises(AudioDecodeError, match="no audio stream"):
        read_audio(path)


def test_rms_dbfs_of_silence_and_full_scale_sine():
    assert rms_dbfs(np.zeros(100)) == float("-inf")
    t = np.arange(16_000) / 16_000
    assert abs(rms_dbfs(np.sin(2 * np.pi * 100 * t)) + 3.0103) < 0.01


@pytest.mark.realdata
def test_stem_mp4_has_five_streams_summing_to_the_mix():
    path = next(require(MUSDB_TRAIN).glob("*.stem.mp4"))
    streams = read_streams(path)
    assert len(streams) == 5
    mix, stems = streams[0].samples, sum(s.samples for s in streams[1:])
    assert np.sqrt(np.mean((mix - stems) ** 2)) < 0.1 * np.sqrt(np.mean(mix**2))
