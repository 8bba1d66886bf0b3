"""Decode stage: one read per file for all its streams, content hashes per stream, failures returned."""

from pathlib import Path

import numpy as np
import soundfile as sf

from indexer.decode import FileTask, content_sha256, decode_file, decode_files
from tests.conftest import MUSDB_VALID, require


def test_wav_decodes_to_the_embedders_wave_with_its_hash(tmp_path: Path, embedder) -> None:
    path = tmp_path / "bass.wav"
    sf.write(path, np.sin(np.arange(44_100) / 10).astype(np.float32) * 0.3, 44_100)
    [d] = decode_file(FileTask(str(path), ((7, None),)), embedder.sample_rate)
    assert d.ok and d.stem_id == 7 and d.sample_rate == 44_100 and d.duration_seconds == 1.0
    np.testing.assert_array_equal(d.wave, embedder.load_audio(path))
    assert d.sha256 == content_sha256(path, None)


def test_failures_are_returned_per_stem_not_raised(tmp_path: Path) -> None:
    (tmp_path / "x.wav").write_bytes(b"not audio")
    results = list(decode_files([FileTask(str(tmp_path / "x.wav"), ((1, None),)),
                                 FileTask(str(tmp_path / "missing.wav"), ((2, None),))], 16_000, workers=0))
    assert [r[0].ok for r in results] == [False, False]
    assert all(r[0].error for r in results)


def test_stem_mp4_streams_hash_differently_and_match_the_embedder() -> None:
    path = sorted(require(MUSDB_VALID).glob("*.stem.mp4"))[0]
    out = decode_file(FileTask(str(path), ((1, 1), (2, 2), (3, 9))), 16_000)
    assert [d.ok for d in out] == [True, True, False]
    assert out[0].sha256 != out[1].sha256
    from model.audio import load_mono

    np.testing.assert_array_equal(out[1].wave, load_mono(path, 16_000, 2))


def test_polling_yields_every_stem_once_and_empty_lists_only_between_files(tmp_path: Path) -> None:
    """poll=True lets the embedding side work while files decode: empty lists say "nothing finished yet",
    and every stem still arrives exactly once, decoded as without polling."""
    tasks = []
    for i in range(5):
        path = tmp_path / f"s{i}.wav"
        sf.write(path, np.sin(np.arange(16_000 * (i + 1)) / (5 + i)).astype(np.float32) * 0.3, 16_000)
        tasks.append(FileTask(str(path), ((i, None),)))
    polled = list(decode_files(tasks, 16_000, workers=2, poll=True))
    stems = {d.stem_id: d for batch in polled for d in batch}
    assert sorted(stems) == list(range(5)) and sum(len(b) for b in polled) == 5
    blocking = {d.stem_id: d for batch in decode_files(tasks, 16_000, workers=0) for d in batch}
    for i in range(5):
        np.testing.assert_array_equal(stems[i].wave, blocking[i].wave)
