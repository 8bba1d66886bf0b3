"""The API end to end on a tiny model and a generated catalogue: retrieval fields, stems, audio, operations."""

from fastapi.testclient import TestClient

from analysis.key import CLOSE_CALL_MARGIN
from analysis.placement import ALTERNATIVE_SEPARATION_SECONDS
from service.app import create_app
from service.settings import ServiceSettings
from tests.service.conftest import API_KEY, SONGS, mix_without

RESULT_FIELDS = {"rank", "stem_id", "song_id", "title", "artist", "instrument", "name", "duration_seconds", "score",
                 "normalised_rank", "offset_seconds", "alignment_score", "offset_refined",
                 "offset_alternatives_seconds", "offset_confidence", "offset_alternatives", "audio_url", "curve",
                 "score_parts", "bpm", "key", "camelot",
                 "transpose_semitones", "stretch_ratio", "conformed_bpm", "conformed_key", "conformed_camelot"}


def test_retrieve_returns_k_results_with_every_field(client: TestClient) -> None:
    r = client.post("/retrieve", files={"file": ("mix.wav", mix_without("bass"), "audio/wav")},
                    data={"instrument": "bass", "k": "5", "curve": "true"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["query"]["instrument"] == "bass" and abs(body["query"]["duration_seconds"] - 8.0) < 0.01
    assert body["catalogue"].pop("build") >= 1
    assert body["catalogue"] == {"searched": SONGS, "total": 4 * SONGS, "instrument_filter": True,
                                 "candidates": SONGS, "matching": SONGS, "unavailable": 0}
    assert set(body["timings"]) == {"decode_ms", "embed_ms", "analyse_ms", "search_ms", "align_ms", "total_ms"}
    query = body["query"]
    assert body["rank"] == "fused" and query["bpm"] > 0 and query["key"]
    # the runner-up key is named exactly where the call is close, and is another key
    assert (query["key_alternative"] is not None) == (query["key_confidence"] < CLOSE_CALL_MARGIN)
    assert query["key_alternative"] != query["key"] and bool(query["key_alternative_camelot"]) == bool(
        query["key_alternative"])
    results = body["results"]
    assert len(results) == 5
    for i, res in enumerate(results, start=1):
        assert set(res) == RESULT_FIELDS
        assert res["rank"] == i and res["instrument"] == "bass"
        assert abs(res["normalised_rank"] - i / SONGS) < 1e-6
        assert res["audio_url"] == f"/stems/{res['stem_id']}/audio"
        assert len(res["curve"]["offsets_seconds"]) == len(res["curve"]["similarity"]) > 0
        fused = res["curve"]["fused_offsets_seconds"]  # the curve that chose the offset: its peak is the offset
        assert len(fused) == len(res["curve"]["fused"]) and (fused or not res["offset_refined"])
        if fused and res["offset_confidence"] is None:  # no placement: the offset is the fused curve's peak
            best = fused[max(range(len(fused)), key=res["curve"]["fused"].__getitem__)]
            assert abs(best - res["offset_seconds"]) <= 0.011 * (len(fused) // 1500 + 1)
        alternatives = res["offset_alternatives_seconds"]
        assert len(alternatives) <= 2 and (res["offset_refined"] or not alternatives)
        offsets = [res["offset_seconds"], *alternatives]
        # placement's runners-up may be the neighbouring sixteenth; the fused curve's peaks lie 0.5 s apart
        gap = ALTERNATIVE_SEPARATION_SECONDS if res["offset_confidence"] is not None else 0.5
        assert all(abs(a - b) >= gap - 0.01 for j, a in enumerate(offsets) for b in offsets[j + 1:])
        # every refined offset carries a confidence: probabilities, the best offset's the highest
        assert [a["offset_seconds"] for a in res["offset_alternatives"]] == alternatives
        if res["offset_refined"]:
            confidences = [res["offset_confidence"], *(a["confidence"] for a in res["offset_alternatives"])]
            assert all(0.0 <= c <= 1.0 for c in confidences) and sum(confidences) <= 1.0 + 1e-3
            assert confidences == sorted(confidences, reverse=True)
    scores = [res["score"] for res in results]
    assert scores == sorted(scores, reverse=True)
    for res in results:
        parts = res["score_parts"]
        assert res["score"] == parts["fused"] and set(parts) == {"model", "key", "chroma", "tempo", "rhythm", "fused"}
        assert res["bpm"] > 0 and res["key"] and res["camelot"]
    assert any(res["offset_alternatives_seconds"] for res in results)
    assert any(res["offset_confidence"] is not None for res in results)


def test_without_placement_offsets_are_the_fused_peaks_without_confidences(indexed: ServiceSettings) -> None:
    with TestClient(create_app(indexed.model_copy(update={"placement": False}))) as c:
        r = c.post("/retrieve", files={"file": ("mix.wav", mix_without("bass"), "audio/wav")},
                   data={"instrument": "bass", "k": "3"})
    assert r.status_code == 200, r.text
    for res in r.json()["results"]:
        assert res["offset_refined"] and res["offset_confidence"] is None
        assert all(a["confidence"] is None for a in res["offset_alternatives"])


def test_unfiltered_search_ranks_against_the_whole_catalogue(client: TestClient) -> None:
    r = client.post("/retrieve", files={"file": ("mix.wav", mix_without("drums"), "audio/wav")},
                    data={"instrument": "drums", "k": "40", "instrument_filter": "false"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["catalogue"]["searched"] == 4 * SONGS and len(body["results"]) == 4 * SONGS
    assert {res["instrument"] for res in body["results"]} == {"bass", "drums", "other", "vocals"}
    assert all(res["curve"] is None for res in body["results"])


def test_excluded_songs_never_come_back(client: TestClient) -> None:
    first = client.post("/retrieve", files={"file": ("mix.wav", mix_without("vocals"), "audio/wav")},
                        data={"instrument": "vocals", "k": "3"}).json()["results"]
    banned = [first[0]["song_id"], first[1]["song_id"]]
    r = client.post("/retrieve", files={"file": ("mix.wav", mix_without("vocals"), "audio/wav")},
                    data={"instrument": "vocals", "k": "10", "exclude_song": [str(s) for s in banned]})
    assert r.status_code == 200, r.text
    songs = {res["song_id"] for res in r.json()["results"]}
    assert len(songs) == SONGS - 2 and not songs & set(banned)


def test_section_offsets_are_reported_in_upload_time(client: TestClient) -> None:
    r = client.post("/retrieve", files={"file": ("mix.wav", mix_without("bass"), "audio/wav")},
                    data={"instrument": "bass", "k": "2", "start": "2.0", "duration": "4.0", "curve": "true"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["query"]["start_seconds"] == 2.0 and abs(body["query"]["section_seconds"] - 4.0) < 0.01
    offsets = body["results"][0]["curve"]["offsets_seconds"]
    assert min(offsets) < 2.0 < max(offsets)


def test_stems_are_listed_with_filters_and_pagination(client: TestClient) -> None:
    page = client.get("/stems", params={"instrument": "drums", "limit": 3, "offset": 2}).json()
    assert page["total"] == SONGS and len(page["items"]) == 3 and page["offset"] == 2
    assert all(s["instrument"] == "drums" for s in page["items"])
    everything = client.get("/stems", params={"limit": 500}).json()
    assert everything["total"] == 4 * SONGS
    one = everything["items"][0]
    assert client.get(f"/stems/{one['id']}").json() == one
    of_song = client.get("/stems", params={"song_id": one["song_id"]}).json()
    assert of_song["total"] == 4
    assert client.get("/stems", params={"q": "song3"}).json()["total"] == 4
    songs = client.get("/songs").json()
    assert songs["total"] == SONGS and songs["items"][0]["instruments"] == ["bass", "drums", "other", "vocals"]


def test_stem_audio_streams_with_range_requests(client: TestClient) -> None:
    stem = client.get("/stems", params={"limit": 1}).json()["items"][0]
    full = client.get(stem["audio_url"])
    assert full.status_code == 200 and full.headers["content-type"].startswith("audio/wav")
    assert full.headers["accept-ranges"] == "bytes" and full.content[:4] == b"RIFF"
    part = client.get(stem["audio_url"], headers={"Range": "bytes=4-11"})
    assert part.status_code == 206 and part.content == full.content[4:12]
    assert part.headers["content-range"] == f"bytes 4-11/{len(full.content)}"


def test_operational_endpoints(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    info = client.get("/info").json()
    assert info["model"] == "tiny" and info["index_size"] == 4 * SONGS and len(info["checkpoint_hash"]) == 64
    assert info["index_size_by_instrument"] == {"bass": SONGS, "drums": SONGS, "vocals": SONGS, "other": SONGS}
    metrics = client.get("/metrics").text
    assert "stemjepa_http_requests_total" in metrics and 'route="/retrieve"' in metrics
    assert "stemjepa_retrieve_stage_seconds" in metrics and "stemjepa_catalogue_stems 32.0" in metrics
    assert "stemjepa_errors_total" in metrics
    assert client.get("/openapi.json").json()["paths"]["/retrieve"]["post"]
    assert client.get("/docs").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and "Stem Finder" in page.text


def test_index_job_runs_in_the_background_and_reports_progress(client: TestClient) -> None:
    import time

    r = client.post("/index-jobs", json={"source": "songs"}, headers={"X-API-Key": API_KEY})
    assert r.status_code == 202, r.text
    job = r.json()
    for _ in range(300):
        job = client.get(f"/index-jobs/{job['id']}", headers={"X-API-Key": API_KEY}).json()
        if job["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.1)
    assert job["status"] == "succeeded", job
    assert job["progress"] == 1.0 and job["result"]["indexed_total"] == 4 * SONGS
    assert client.get("/readyz").status_code == 200


def test_hits_aligned_side_by_side_answer_as_aligned_one_by_one(client: TestClient, indexed: ServiceSettings) -> None:
    """A lone request's hits align in the retriever's pool (align_threads 2, the default) or in its own thread
    (1): the same results, offsets and confidences, in the same order."""
    files = {"file": ("mix.wav", mix_without("drums"), "audio/wav")}
    data = {"instrument": "drums", "k": "5"}
    pooled = client.post("/retrieve", files=files, data=data)
    with TestClient(create_app(indexed.model_copy(update={"align_threads": 1}))) as c:
        alone = c.post("/retrieve", files=files, data=data)
    assert pooled.status_code == alone.status_code == 200
    strip = [{k: v for k, v in r.items() if k != "timings"} for r in pooled.json()["results"]]
    assert strip == [{k: v for k, v in r.items() if k != "timings"} for r in alone.json()["results"]]
    assert len(strip) == 5 and all(r["offset_refined"] for r in strip)
