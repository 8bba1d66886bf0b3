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
