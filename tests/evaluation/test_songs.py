"""Loading evaluation songs and building query pairs in model.validate's order."""

import numpy as np

from evaluation.ranking import Labels
from evaluation.retrieval import pair_labels
from evaluation.songs import EvalSong, as_stem_dicts, load_songs, query_pairs
from model.validate import build_retrieval_set


def test_load_songs_decodes_stems_and_reads_metadata(song_dir):
    songs = load_songs(song_dir)
    assert [s.song_id for s in songs] == [f"song{i}" for i in range(5)]
    assert sorted(songs[0].stems) == ["bass", "drums", "other", "vocals"]
    assert songs[0].stems["bass"].dtype == np.float32 and len(songs[0].stems["bass"]) == 48_000
    assert songs[1].metadata["tonic"] == 2 and songs[1].metadata["tempo"] == 101.0
    assert len(load_songs(song_dir, limit=2)) == 2


def test_query_pairs_leave_out_silent_stems_and_mix_the_others(eval_songs):
    stems = dict(eval_songs[0].stems)
    stems["vocals"] = np.zeros_like(stems["vocals"])
    pairs = query_pairs([EvalSong("x", stems)])
    assert [p.instrument for p in pairs] == ["bass", "drums", "other"]
    bass = pairs[0]
    assert np.allclose(bass.mix, stems["drums"] + stems["other"], atol=1e-6)


def test_query_pairs_follow_the_order_of_model_validate(eval_songs, tiny_checkpoint):
    from model.embed import Embedder

    embedder = Embedder.from_checkpoint(tiny_checkpoint, device="cpu")
    rs = build_retrieval_set(embedder, as_stem_dicts(eval_songs))
    want, got = Labels.of(rs), pair_labels(query_pairs(eval_songs))
    assert np.array_equal(want.ref_songs, got.ref_songs)
    assert np.array_equal(want.ref_instruments, got.ref_instruments)
    assert np.array_equal(want.truth, got.truth)
