"""Offsets refined on demand: /retrieve refines its first `refine_top` results, keeps the query, and
POST /retrieve/{query_id}/refine refines the others exactly as the request would have; the query cache's bounds."""

import numpy as np
from fastapi.testclient import TestClient

from analysis.music import analyse
from service.app import create_app
from service.querycache import KeptQuery, QueryCache
from service.settings import ServiceSettings
from tests.service.conftest import SONGS, mix_without

OFFSET_FIELDS = ("offset_seconds", "offset_confidence", "alignment_score", "offset_refined",
                 "offset_alternatives_seconds", "offset_alternatives", "curve")


def _retrieve(c: TestClient, k: int = SONGS, curve: bool = True) -> dict:
    r = c.post("/retrieve", files={"file": ("mix.wav", mix_without("bass"), "audio/wav")},
               data={"instrument": "bass", "k": str(k), "curve": "true" if curve else "false"})
    assert r.status_code == 200, r.text
    return r.json()


def test_results_past_refine_top_are_refined_on_demand_as_the_request_would_have(indexed: ServiceSettings) -> None:
    with TestClient(create_app(indexed.model_copy(update={"refine_top": 3}))) as c:
        lazy = _retrieve(c)
        query_id = lazy["query"]["query_id"]
        assert query_id
        late = [r for r in lazy["results"] if r["rank"] > 3]
        assert len(late) == SONGS - 3
        assert all(not r["offset_refined"] and r["offset_confidence"] is None and not r["curve"]["fused"]
                   and not r["offset_alternatives"] for r in late)
        wanted = [r["stem_id"] for r in reversed(late)]
        r = c.post(f"/retrieve/{query_id}/refine", json={"stem_ids": wanted})
        assert r.status_code == 200, r.text
        refined = r.json()
    with TestClient(create_app(indexed.model_copy(update={"refine_top": SONGS}))) as c:
        eager = {r["stem_id"]: r for r in _retrieve(c)["results"]}
        assert _retrieve(c, k=3)["query"]["query_id"] is None  # every result refined: nothing to keep
    assert refined["query_id"] == query_id and refined["unavailable"] == []
    assert [r["stem_id"] for r in refined["results"]] == wanted
    before = {r["stem_id"]: r for r in lazy["results"]}
    for res in refined["results"]:
        assert res["offset_refined"] and res["curve"]["fused"]
        assert {f: res[f] for f in OFFSET_FIELDS} == {f: eager[res["stem_id"]][f] for f in OFFSET_FIELDS}
        assert {k: v for k, v in res.items() if k not in OFFSET_FIELDS} == \
            {k: v for k, v in before[res["stem_id"]].items() if k not in OFFSET_FIELDS}
    for res in lazy["results"][:3]:  # the first ones were refined on the request's path, identically
        assert {f: res[f] for f in OFFSET_FIELDS} == {f: eager[res["stem_id"]][f] for f in OFFSET_FIELDS}


def test_refine_refuses_unknown_queries_foreign_stems_and_bad_bodies(client: TestClient) -> None:
    body = _retrieve(client, curve=False)
    query_id, stems = body["query"]["query_id"], [r["stem_id"] for r in body["results"]]
    r = client.post("/retrieve/no-such-query/refine", json={"stem_ids": stems[:1]})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    foreign = max(stems) + 1000
    r = client.post(f"/retrieve/{query_id}/refine", json={"stem_ids": [stems[-1], foreign]})
    assert r.status_code == 422 and r.json()["error"]["detail"] == {"unknown": [foreign]}
    for bad in ({"stem_ids": []}, {"stem_ids": "1"}, {}):
        assert client.post(f"/retrieve/{query_id}/refine", json=bad).status_code == 422
    assert client.post("/retrieve/bad%20id!/refine", json={"stem_ids": stems[:1]}).status_code == 422
    r = client.post(f"/retrieve/{query_id}/refine", json={"stem_ids": [stems[-1], stems[-1]]})
    assert r.status_code == 200 and [x["stem_id"] for x in r.json()["results"]] == [stems[-1]]


def _kept(seconds: float) -> KeptQuery:
    wave = np.random.default_rng(0).standard_normal(int(seconds * 16_000)).astype(np.float32) * 0.1
    return KeptQuery(np.zeros((int(seconds / 0.16), 128), np.float32), analyse(wave, 16_000), 0.0, {}, {})


def test_query_cache_is_bounded_by_entries_bytes_and_age() -> None:
    kept = _kept(4.0)
    now = [0.0]
    cache = QueryCache(max_entries=3, max_bytes=10 * kept.nbytes, ttl_seconds=60, clock=lambda: now[0])
    ids = [cache.put(kept) for _ in range(4)]
    assert all(ids) and len(set(ids)) == 4 and len(cache) == 3
    assert cache.get(ids[0]) is None and cache.get(ids[1]) is kept  # the oldest went first
    cache.put(kept)  # ids[1] was just used: ids[2] goes
    assert cache.get(ids[2]) is None and cache.get(ids[1]) is kept
    now[0] = 61.0
    assert cache.get(ids[1]) is None and len(cache) == 0 and cache.bytes == 0  # too old
    small = QueryCache(max_entries=10, max_bytes=int(2.5 * kept.nbytes), ttl_seconds=60)
    ids = [small.put(kept) for _ in range(3)]
    assert len(small) == 2 and small.get(ids[0]) is None and small.bytes == 2 * kept.nbytes
    assert QueryCache(10, kept.nbytes - 1, 60).put(kept) is None  # over the whole budget alone: not kept
    assert QueryCache(0, 10 * kept.nbytes, 60).put(kept) is None


def test_kept_bytes_count_frames_and_the_analysis() -> None:
    short, long = _kept(4.0), _kept(16.0)
    assert long.nbytes > 3 * short.nbytes > 0
    assert short.nbytes >= short.frames.nbytes + short.analysis.signature.bands.nbytes
