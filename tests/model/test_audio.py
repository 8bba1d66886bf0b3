import numpy as np
import pytest
import soundfile as sf

from model.audio import DecodeLimits, load_mono, read_audio, read_streams, rms_dbfs
from model.errors import AudioDecodeError, AudioLimitError
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


@pytest.mark.parametrize("n", [1, 7, 1 << 16, (1 << 16) + 1, (1 << 17) + 9, 480_000, 2_880_013])
def test_rms_dbfs_sums_the_squares_to_the_last_bit_as_numpy(n: int):
    rng = np.random.default_rng(n)
    for wave in (rng.standard_normal(n).astype(np.float32), 0.1 * rng.standard_normal(n)):
        expected = float(np.sqrt(np.mean(np.square(wave, dtype=np.float64))))
        assert rms_dbfs(wave) == 20.0 * np.log10(expected)
    both = rng.standard_normal((2, n)).astype(np.float32)  # a multichannel signal and a strided view
    assert rms_dbfs(both) == 20.0 * np.log10(float(np.sqrt(np.mean(np.square(both, dtype=np.float64)))))
    assert rms_dbfs(both[:, ::2]) == 20.0 * np.log10(float(np.sqrt(np.mean(np.square(both[:, ::2],
                                                                                      dtype=np.float64)))))


@pytest.mark.realdata
def test_stem_mp4_has_five_streams_summing_to_the_mix():
    path = next(require(MUSDB_TRAIN).glob("*.stem.mp4"))
    streams = read_streams(path)
    assert len(streams) == 5
    mix, stems = streams[0].samples, sum(s.samples for s in streams[1:])
    assert np.sqrt(np.mean((mix - stems) ** 2)) < 0.1 * np.sqrt(np.mean(mix**2))


def _tone(seconds: float, sr: int, channels: int = 1) -> np.ndarray:
    wave = (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * sr)) / sr)).astype(np.float32)
    return np.repeat(wave[:, None], channels, axis=1)


def _mp3(seconds: float, sr: int = 44_100) -> bytes:
    import io

    buf = io.BytesIO()
    sf.write(buf, _tone(seconds, sr)[:, 0], sr, format="MP3")
    return buf.getvalue()


@pytest.mark.parametrize("limit, reason", [
    (DecodeLimits(48_000, 8, 600.0, 10**9), "sample rate 96000 Hz; the limit is 48000 Hz"),
    (DecodeLimits(192_000, 1, 600.0, 10**9), "2 channels; the limit is 1"),
    (DecodeLimits(192_000, 8, 10.0, 10**9), "the audio lasts 60.0 s; the limit is 10 s"),
    (DecodeLimits(192_000, 8, 600.0, 1_000_000), "samples (60.0 s x 2 channels at 96000 Hz); the limit is 1000000"),
])
@pytest.mark.parametrize("suffix", [".flac", ".m4a"])
def test_limits_are_checked_from_the_header_before_decoding(tmp_path, limit, reason, suffix):
    import tracemalloc

    import av

    path = tmp_path / f"big{suffix}"
    if suffix == ".flac":
        sf.write(path, _tone(60.0, 96_000, 2), 96_000)
    else:  # through FFmpeg
        with av.open(str(path), "w") as c:
            s = c.add_stream("aac", rate=96_000, layout="stereo")
            frame = av.AudioFrame.from_ndarray(np.zeros((2, 96_000 * 60), np.float32), format="fltp", layout="stereo")
            frame.sample_rate = 96_000
            for p in [*s.encode(frame), *s.encode()]:
                c.mux(p)
    tracemalloc.start()
    try:
        with pytest.raises(AudioLimitError) as err:
            read_audio(path, limits=limit)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert reason in err.value.reason
    assert peak < 96_000 * 60 * 2 * 4 / 20  # refused before the 46 MB of samples were decoded


def test_a_header_that_understates_the_audio_is_caught_while_decoding(tmp_path):
    path = tmp_path / "lying.mp3"
    path.write_bytes(_mp3(1.0) + _mp3(60.0))  # the first part's header says 1 s: 61 s follow
    assert sf.info(path).duration == pytest.approx(1.0, abs=0.05)  # libsndfile would stop there, silently
    assert read_audio(path).duration == pytest.approx(61.0, abs=0.2)  # FFmpeg decodes mp3 to the end
    with pytest.raises(AudioLimitError, match="the limit is 50 s"):  # FFmpeg's own estimate (46 s) passes
        read_audio(path, limits=DecodeLimits(192_000, 8, 50.0, 10**9))
    with pytest.raises(AudioLimitError, match=r"the limit is 2205000$"):  # 50 s of samples: the header passes
        read_audio(path, limits=DecodeLimits(192_000, 8, 600.0, 50 * 44_100))


def test_audio_within_the_limits_decodes_as_without_them(tmp_path):
    sf.write(tmp_path / "ok.flac", _tone(5.0, 48_000, 2), 48_000)
    limits = DecodeLimits(48_000, 2, 5.0, 48_000 * 5 * 2)
    within, free = read_audio(tmp_path / "ok.flac", limits=limits), read_audio(tmp_path / "ok.flac")
    assert within.sample_rate == 48_000 and np.array_equal(within.samples, free.samples)


@pytest.mark.parametrize("channels", [2, 3, 6])
def test_to_mono_of_an_interleaved_view_is_numpys_mean(channels):
    from model.audio import to_mono

    interleaved = np.random.default_rng(channels).standard_normal((48_000, channels)).astype(np.float32)
    view = interleaved.T  # [C, T] over [T, C] memory, as the decoders hand it over
    mono = to_mono(view)
    assert mono.dtype == np.float32 and mono.shape == (48_000,)
    np.testing.assert_allclose(mono, view.mean(axis=0), rtol=0, atol=1e-6)
    if channels == 2:  # one addition and a halving: the same bits as numpy's mean
        np.testing.assert_array_equal(mono, view.mean(axis=0))
    assert not np.shares_memory(mono, interleaved)  # a new array: the source is left as it was
