"""Bad input of every kind gets its 4xx in the one error body shape, and the server stays healthy."""

import io
from collections.abc import Iterator

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import ServiceSettings
from tests.service.conftest import API_KEY, mix_without, wav_bytes


def assert_error(r, status: int, code: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"status", "code", "message", "detail"}
    assert body["error"]["status"] == status and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


def post(client: TestClient, content: bytes, name: str = "mix.wav", **data: str):  # type: ignore[no-untyped-def]
    form = {"instrument": "bass", **data}
    return client.post("/retrieve", files={"file": (name, content, "application/octet-stream")}, data=form)


def mp3_bytes(seconds: float) -> bytes:
    buf = io.BytesIO()
    t = np.arange(int(seconds * 16_000)) / 16_000
    sf.write(buf, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16_000, format="MP3")
    return buf.getvalue()


@pytest.fixture(scope="module")
def small_limits(indexed: ServiceSettings) -> Iterator[TestClient]:
    """The same index served with a 100 kB upload limit."""
    settings = indexed.model_copy(update={"max_upload_bytes": 100_000})
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


CASES = {
    "empty file": (b"", "mix.wav", 400),
    "text renamed .wav": (b"these are not the samples you are looking for\n" * 50, "mix.wav", 400),
    "truncated mp3": (mp3_bytes(8.0)[:600], "mix.mp3", 400),
    "0.1 s of audio": (wav_bytes(0.3 * np.ones(1600, dtype=np.float32)), "short.wav", 400),
    "pure silence": (wav_bytes(np.zeros(16_000 * 4, dtype=np.float32)), "silence.wav", 400),
    "NaN-filled float wav": (wav_bytes(np.full(16_000 * 4, np.nan, dtype=np.float32), subtype="FLOAT"), "nan.wav", 400),
    "10 min over the limit": (wav_bytes(0.1 * np.ones(8_000 * 600, dtype=np.float32), sr=8_000), "long.wav", 413),
    "unsupported type": (b"plain text", "notes.txt", 415),
    "384 kHz, over the rate limit": (wav_bytes(0.1 * np.ones(384_000, dtype=np.float32), sr=384_000), "hi.wav", 413),
    "9 channels": (wav_bytes(0.1 * np.ones((16_000, 9), dtype=np.float32)), "many.wav", 413),
    "mp3 header saying 1 s, 400 s follow": (mp3_bytes(1.0) + mp3_bytes(400.0), "lying.mp3", 413),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_uploads_get_their_4xx(client: TestClient, case: str) -> None:
    content, name, status = CASES[case]
    assert_error(post(client, content, name), status)
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize("data", [{"instrument": "kazoo"}, {"k": "0"}, {"k": "10000"}, {"k": "ten"},
                                  {"start": "-1"}, {"start": "500"}, {"duration": "0"}, {"start": "nan"},
                                  {"exclude_song": "x"}, {"rank": "best"}, {"key": "H minor"}, {"key": "13A"},
                                  {"bpm_min": "140", "bpm_max": "100"}, {"max_transpose": "7"},
                                  {"max_stretch": "0.9"}, {"key_match": "near"}, {"bpm_min": "-5"}])
def test_bad_parameters_get_422(client: TestClient, data: dict[str, str]) -> None:
    err = assert_error(post(client, mix_without("bass"), **data), 422)
    if data.get("instrument") == "kazoo":
        assert err["code"] == "unknown_instrument" and "bass" in err["detail"]["known"]


def test_missing_file_field_gets_422(client: TestClient) -> None:
    err = assert_error(client.post("/retrieve", data={"instrument": "bass"}), 422, "invalid_parameter")
    assert any("file" in d["loc"] for d in err["detail"])
    assert_error(client.post("/retrieve"), 422)


def test_upload_decoding_to_too_many_samples_gets_413_from_its_header(client: TestClient, indexed: ServiceSettings,
                                                                     tmp_path) -> None:  # type: ignore[no-untyped-def]
    sr, channels = 192_000, 2
    frames = indexed.max_decoded_samples // channels + sr  # 1 s over; 150 s, within max_audio_seconds
    path = tmp_path / "wide.flac"
    with sf.SoundFile(path, "w", sr, channels, format="FLAC") as f:  # written in blocks: the test stays small
        block = np.zeros((sr, channels), dtype=np.float32)
        block[::100] = 0.1
        for _ in range(frames // sr):
            f.write(block)
    err = assert_error(post(client, path.read_bytes(), "wide.flac"), 413, "too_large")
    assert f"the limit is {indexed.max_decoded_samples}" in err["message"] and "/" not in err["message"]


def test_upload_over_the_byte_limit_gets_413(small_limits: TestClient) -> None:
    assert_error(post(small_limits, mix_without("bass")), 413, "too_large")
    boundary = "b0undary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"instrument\"\r\n\r\nbass\r\n--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="mix.wav"\r\nContent-Type: audio/wav\r\n\r\n')

    def chunked():  # no Content-Length: the size is only found while the body streams in
        yield head.encode()
        data = mix_without("bass")
        for i in range(0, len(data), 16_384):
            yield data[i : i + 16_384]
        yield f"\r\n--{boundary}--\r\n".encode()

    r = small_limits.post("/retrieve", content=chunked(),
                          headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert "content-length" not in r.request.headers
    assert_error(r, 413, "too_large")
    assert small_limits.get("/healthz").status_code == 200


@pytest.mark.parametrize("path", ["/stems/..%2F..%2Fetc%2Fpasswd/audio", "/stems/../../etc/passwd/audio",
                                  "/stems/%2Fetc%2Fpasswd/audio", "/stems/1%00/audio", "/stems/-1/audio",
                                  "/stems/99999999/audio", "/stems/1e3/audio", "/stems/9999999999999999999999/audio",
                                  "/stems/..%252F..%252Fetc%252Fpasswd/audio"])
def test_paths_in_audio_requests_never_reach_the_file_system(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code in (404, 422), r.text
    assert b"root:" not in r.content
    assert_error(r, r.status_code)


def test_index_jobs_need_the_right_key(client: TestClient) -> None:
    assert_error(client.post("/index-jobs", json={}), 401, "unauthorized")
    assert_error(client.post("/index-jobs", json={}, headers={"X-API-Key": "wrong"}), 403, "forbidden")
    assert_error(client.get("/index-jobs/abc", headers={"X-API-Key": "wrong"}), 403)
    assert_error(client.get("/index-jobs/abc", headers={"X-API-Key": API_KEY}), 422)  # ids are integers
    assert_error(client.get("/index-jobs/999999", headers={"X-API-Key": API_KEY}), 404)
    for source in ("../", "/etc", "songs/../../.."):
        assert_error(client.post("/index-jobs", json={"source": source}, headers={"X-API-Key": API_KEY}), 422)


def test_unknown_routes_and_methods_use_the_error_shape(client: TestClient) -> None:
    assert_error(client.get("/nope"), 404)
    assert_error(client.delete("/retrieve"), 405)


def test_server_still_answers_correctly_after_all_that(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200 and client.get("/readyz").status_code == 200
    r = post(client, mix_without("bass"), k="3")
    assert r.status_code == 200 and len(r.json()["results"]) == 3


MAX_ID = 2**31 - 1


@pytest.mark.parametrize("method, path, params", [
    ("get", f"/stems/{MAX_ID + 1}", {}), ("get", f"/stems/{MAX_ID + 1}/audio", {}), ("get", f"/stems/{2**63}", {}),
    ("get", "/stems", {"song_id": MAX_ID + 1}), ("get", "/stems", {"q": "a\x00b"}), ("get", "/songs", {"q": "\x00"}),
    ("get", "/stems", {"instrument": "bass\x00"}), ("get", "/stems", {"q": "x" * 201}),
    ("get", "/stems", {"key": "A\x00"}), ("get", "/songs", {"q": "y" * 10_000}),
])
def test_out_of_range_ids_nul_bytes_and_long_text_get_422_on_either_database(any_db_client: TestClient, method: str,
                                                                            path: str, params: dict) -> None:
    r = any_db_client.request(method, path, params=params)
    assert_error(r, 422, "invalid_parameter")
    assert r.headers.get("connection") != "close"


def test_the_largest_id_and_plain_text_are_answered_on_either_database(any_db_client: TestClient) -> None:
    assert_error(any_db_client.get(f"/stems/{MAX_ID}"), 404)
    assert_error(any_db_client.get(f"/stems/{MAX_ID}/audio"), 404)
    assert any_db_client.get("/stems", params={"song_id": MAX_ID, "q": "%_'\\"}).json()["total"] == 0
    assert any_db_client.get("/stems", params={"q": "/"}).json()["total"] == 0  # server paths are never matched
    for banned in ([MAX_ID], [MAX_ID + 1], [2**63], [2**64]):
        r = post(any_db_client, mix_without("bass"), k="2", exclude_song=[str(b) for b in banned])
        assert r.status_code == (200 if banned == [MAX_ID] else 422), r.text


def test_index_job_fields_are_bounded(client: TestClient) -> None:
    headers = {"X-API-Key": API_KEY}
    for source in ("s" * 10_000, "songs\x00", "a/" * 600):
        err = assert_error(client.post("/index-jobs", json={"source": source}, headers=headers), 422)
        assert "/tmp" not in err["message"] and "SELECT" not in err["message"]
    assert_error(client.get(f"/index-jobs/{MAX_ID + 1}", headers=headers), 422)
    assert_error(client.get(f"/index-jobs/{MAX_ID}", headers=headers), 404)


def test_an_unhandled_error_is_a_500_that_closes_the_connection(indexed: ServiceSettings, monkeypatch) -> None:
    from service.routers import songs

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("/srv/secret/path exploded")

    with TestClient(create_app(indexed), raise_server_exceptions=False) as c:
        monkeypatch.setattr(songs.CatalogueDep.__metadata__[0].dependency(c.app.state.runtime), "songs", broken)
        r = c.get("/songs")
    err = assert_error(r, 500, "internal_error")
    assert r.headers["connection"] == "close" and "secret" not in err["message"]
