import json

import pytest

from model.multitrack import discover
from tests.conftest import MUSDB_VALID, TRACKSWITCH, require


def test_song_folders_report_unresolved_stems(multitrack_dir):
    (multitrack_dir / "song0" / "clicktrack.wav").write_bytes((multitrack_dir / "song0" / "bass.wav").read_bytes())
    found = discover(multitrack_dir)
    assert len(found.songs) == 6
    assert all(s.instruments() == ["bass", "drums", "other", "vocals"] for s in found.songs)
    assert [p.endswith("clicktrack.wav") for p, _ in found.unresolved] == [True]


def test_manifest_jsonl(tmp_path, multitrack_dir):
    rows = [{"path": str(multitrack_dir / "song1" / f"{n}.wav"), "instrument": n, "song": "s1", "title": "T",
             "artist": "A", "tags": "funk,live", "licence": "CC-BY"} for n in ("bass", "drums")]
    rows.append({"path": str(multitrack_dir / "song1" / "other.wav"), "instrument": "kazoo", "song": "s1"})
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("\n".join(json.dumps(r) for r in rows))
    found = discover(manifest)
    assert [s.song_id for s in found.songs] == ["s1"]
    assert found.songs[0].tags == ("funk", "live") and found.songs[0].licence == "CC-BY"
    assert len(found.unresolved) == 1


@pytest.mark.realdata
def test_musdb_stem_mp4_and_trackswitch():
    found = discover(require(MUSDB_VALID))
    assert len(found.songs) == 30 and sum(len(s.stems) for s in found.songs) == 120
    song = discover(require(TRACKSWITCH)).songs[0]
    assert sorted(s.instrument for s in song.stems) == ["bass", "drums", "other", "other"]


def test_training_and_checkpoint_validation_refuse_evaluation_set_songs(tmp_path, multitrack_dir):
    from model.cache import build_cache
    from model.errors import ReservedDataError
    from model.instruments import InstrumentVocabulary
    from model.multitrack import EVALUATION_SET_NAME
    from model.train import load_validation

    (multitrack_dir / "song3" / "metadata.json").write_text(json.dumps({"set": "selection"}))
    assert len(build_cache([multitrack_dir], tmp_path / "cache", InstrumentVocabulary())) == 6
    (multitrack_dir / "song4" / "metadata.json").write_text(json.dumps({"set": EVALUATION_SET_NAME}))
    assert [s.data_set for s in discover(multitrack_dir).songs][3:5] == ["selection", EVALUATION_SET_NAME]
    with pytest.raises(ReservedDataError, match="song4"):
        build_cache([multitrack_dir], tmp_path / "cache", InstrumentVocabulary())

    class Stub:  # load_validation reads only the vocabulary and rate of the embedder
        vocabulary = InstrumentVocabulary()
        sample_rate = 16_000

    with pytest.raises(ReservedDataError, match="checkpoint validation"):
        load_validation(multitrack_dir, Stub())  # type: ignore[arg-type]


def test_decode_song_sums_files_of_one_class_padded_to_the_longest(tmp_path):
    import numpy as np
    import soundfile as sf

    from model.audio import load_mono
    from model.cache import song_array
    from model.instruments import InstrumentVocabulary
    from model.multitrack import decode_song

    song = tmp_path / "song"
    song.mkdir()
    rng = np.random.default_rng(0)
    parts = {"guitar.wav": 0.1 * rng.standard_normal(16_000), "piano.wav": 0.1 * rng.standard_normal(8_000),
             "bass.wav": 0.1 * rng.standard_normal(12_000)}
    for name, wave in parts.items():
        sf.write(song / name, wave.astype(np.float32), 16_000, subtype="FLOAT")
    ref = discover(tmp_path).songs[0]
    waves = decode_song(ref, 16_000)
    assert sorted(waves) == ["bass", "other"] and len(waves["other"]) == 16_000
    guitar, piano = load_mono(song / "guitar.wav"), load_mono(song / "piano.wav")
    assert np.allclose(waves["other"], guitar + np.pad(piano, (0, 8_000)))
    array = song_array(ref, InstrumentVocabulary(), 16_000)  # the training cache's rows: the same waves
    vocab = InstrumentVocabulary()
    assert array.shape == (len(vocab), 16_000)
    assert np.array_equal(array[vocab.index("bass"), :12_000], waves["bass"])
    assert not array[vocab.index("drums")].any()
