"""/retrieve's musical ranking end to end: fused by default, the model alone on request, BPM and key filters
on the conformed stems, transposition and stretch suggestions, and answers without any catalogue audio."""

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from analysis.key import camelot_compatible, parse_key
from service.app import create_app
from service.settings import ServiceSettings, load_settings
from tests.service.conftest import SONGS, mix_without


def _retrieve(client: TestClient, instrument: str = "bass", **data: str) -> dict:
    r = client.post("/retrieve", files={"file": ("mix.wav", mix_without(instrument), "audio/wav")},
                    data={"instrument": instrument, "k": str(SONGS), **data})
    assert r.status_code == 200, r.text
    return r.json()


def test_rank_model_orders_by_the_cosine_and_fused_by_the_fused_score(client: TestClient) -> None:
    model = _retrieve(client, rank="model")
    fused = _retrieve(client)
    assert model["rank"] == "model" and fused["rank"] == "fused"
    cosines = [r["score_parts"]["model"] for r in model["results"]]
    assert [r["score"] for r in model["results"]] == cosines == sorted(cosines, reverse=True)
    assert [r["score"] for r in fused["results"]] == sorted((r["score_parts"]["fused"] for r in fused["results"]),
                                                           reverse=True)
    assert {r["stem_id"] for r in model["results"]} == {r["stem_id"] for r in fused["results"]}


def test_bpm_and_key_filters_keep_only_matching_conformed_stems(client: TestClient) -> None:
    everything = _retrieve(client)["results"]
    tempi = sorted(r["conformed_bpm"] for r in everything)
    low, high = tempi[1], tempi[-2]
    kept = _retrieve(client, bpm_min=str(low), bpm_max=str(high))
    assert kept["catalogue"]["matching"] == len(kept["results"]) == sum(low <= t <= high for t in tempi)
    assert all(low <= r["conformed_bpm"] <= high for r in kept["results"])
    key = everything[0]["key"]
    exact = _retrieve(client, key=key)["results"]
    assert exact and all(r["conformed_key"] == key for r in exact)
    near = _retrieve(client, key=everything[0]["camelot"], key_match="compatible")["results"]
    assert len(near) >= len(exact)
    assert all(camelot_compatible(parse_key(r["conformed_key"]), parse_key(key)) for r in near)


def test_conforming_suggests_transposition_and_stretch_within_the_limits(client: TestClient) -> None:
    plain = _retrieve(client, max_transpose="0", max_stretch="0")["results"]
    assert all(r["transpose_semitones"] == 0 and r["stretch_ratio"] == 1.0 for r in plain)
    assert all(r["conformed_key"] == r["key"] and r["conformed_bpm"] == r["bpm"] for r in plain)
    free = _retrieve(client, max_transpose="6", max_stretch="0.25")["results"]
    assert all(abs(r["transpose_semitones"]) <= 6 and 0.8 - 1e-6 <= r["stretch_ratio"] <= 1.25 + 1e-6 for r in free)
    assert any(r["transpose_semitones"] != 0 for r in free) and any(r["stretch_ratio"] != 1.0 for r in free)
    for r in free:
        tonic, mode = parse_key(r["key"])
        assert parse_key(r["conformed_key"]) == ((tonic + r["transpose_semitones"]) % 12, mode)
        assert r["conformed_bpm"] == pytest.approx(r["bpm"] * r["stretch_ratio"], abs=0.02)
    drums = _retrieve(client, "drums", max_transpose="6")["results"]
    assert all(r["transpose_semitones"] == 0 for r in drums)  # unpitched stems are never transposed


def test_stems_filter_and_sort_by_bpm_and_key(client: TestClient) -> None:
    items = client.get("/stems", params={"limit": 500, "sort": "bpm"}).json()["items"]
    tempi = [s["bpm"] for s in items]
    assert tempi == sorted(tempi) and all(s["key"] and s["camelot"] for s in items)
    assert [s["bpm"] for s in client.get("/stems", params={"limit": 500, "sort": "-bpm"}).json()["items"]] == \
        sorted(tempi, reverse=True)
    low, high = tempi[5], tempi[-5]
    ranged = client.get("/stems", params={"limit": 500, "bpm_min": low, "bpm_max": high}).json()
    assert ranged["total"] == sum(low <= t <= high for t in tempi)
    key = items[0]["key"]
    exact = client.get("/stems", params={"limit": 500, "key": key}).json()
    assert exact["total"] == sum(s["key"] == key for s in items) and exact["total"] >= 1
    camelot = client.get("/stems", params={"limit": 500, "key": items[0]["camelot"], "key_match": "compatible"})
    assert camelot.json()["total"] >= exact["total"]
    assert client.get("/stems", params={"key": "H minor"}).status_code == 422


def test_retrieve_answers_with_refined_offsets_when_the_catalogue_audio_is_gone(
        tmp_path: Path, indexed: ServiceSettings, catalogue_dir: Path) -> None:
    """No catalogue audio is decoded on the query path: ranking and alignment read the stored analyses."""
    from tests.service.conftest import index_into

    songs = shutil.copytree(catalogue_dir / "songs", tmp_path / "songs")
    settings = load_settings(**{**indexed.model_dump(), "index_dir": tmp_path / "index",
                                "db_url": f"sqlite:///{tmp_path / 'catalogue.sqlite'}", "catalogue_dir": tmp_path})
    index_into(settings, songs)
    shutil.rmtree(songs)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        body = _retrieve(client, k="5")
    results = body["results"]
    assert len(results) == 5 and all(r["offset_refined"] for r in results)
    assert all(r["bpm"] and r["key"] for r in results)


def test_a_small_pool_takes_the_model_nearest_and_the_musically_best_stems(client: TestClient,
                                                                           indexed: ServiceSettings) -> None:
    cosine = {r["stem_id"]: r["score_parts"]["model"] for r in _retrieve(client, rank="model")["results"]}
    settings = load_settings(**{**indexed.model_dump(), "rank_pool": 2})
    with TestClient(create_app(settings), raise_server_exceptions=False) as small:
        body = _retrieve(small, k="2")
        model = _retrieve(small, k="2", rank="model")
    assert 2 < body["catalogue"]["candidates"] <= 4 and len(body["results"]) == 2
    assert model["catalogue"]["candidates"] == 2  # the model's ranking needs only its own neighbours
    for r in body["results"]:  # stems that came in by their musical features carry their true cosine
        assert r["score_parts"]["model"] == pytest.approx(cosine[r["stem_id"]], abs=1e-5)
