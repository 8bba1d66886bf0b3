"""Index jobs across replicas: a job is a row of the shared database, so an API instance answers for a job
another one queued, and picks up the build a worker published, without a restart; while a rebuild runs (and
fails) the service keeps answering whole, from the build it serves."""

import shutil
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from indexer.jobs import JobRunner
from indexer.settings import IndexerSettings
from service.app import create_app
from service.routers.index_jobs import catalogue_source
from service.settings import ServiceSettings
from tests.service.conftest import API_KEY, SONGS, index_into, mix_without

KEY = {"X-API-Key": API_KEY}


def _wait(client: TestClient, job_id: int, seconds: float = 120.0) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        job = client.get(f"/index-jobs/{job_id}", headers=KEY).json()
        if job["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


def test_a_replica_reads_a_job_another_queued_and_loads_the_build_a_worker_published(
        indexed: ServiceSettings, catalogue_dir: Path) -> None:
    # two API replicas over one database and index folder; neither runs jobs (a separate worker does)
    replica = indexed.model_copy(update={"run_index_jobs": False, "catalogue_poll_seconds": 0.0})
    with TestClient(create_app(replica)) as a, TestClient(create_app(replica)) as b:
        build = b.app.state.runtime.catalogue.manifest["build"]
        created = a.post("/index-jobs", json={"source": "songs", "rebuild": True}, headers=KEY)
        assert created.status_code == 202, created.text
        job = created.json()
        assert isinstance(job["id"], int) and job["status"] == "queued" and job["progress"] == 0.0
        seen = b.get(f"/index-jobs/{job['id']}", headers=KEY)
        assert seen.status_code == 200 and seen.json()["id"] == job["id"]
        assert seen.json()["source"] == str(catalogue_dir / "songs")
        # the worker (`stemjepa index-worker`): claims the row and runs it; another runner may claim it first
        JobRunner(IndexerSettings.over(replica, workers=0)).run_until_idle()
        done = _wait(b, job["id"])
        assert done["status"] == "succeeded", done
        assert done["progress"] == 1.0 and done["result"]["indexed_total"] == 4 * SONGS
        assert done["result"]["build"] > build and done["message"].startswith("indexed in")
        runtime = b.app.state.runtime  # its watcher is off here: refresh as one poll of it would
        assert runtime.catalogue.manifest["build"] == build
        assert runtime.refresh_catalogue() and not runtime.refresh_catalogue()
        assert runtime.catalogue.manifest["build"] == done["result"]["build"]
        assert b.get("/info").json()["index_size"] == 4 * SONGS


def test_sources_must_lie_inside_the_catalogue_directory(tmp_path: Path) -> None:
    (tmp_path / "songs").mkdir()
    assert catalogue_source(tmp_path, "songs") == (tmp_path / "songs").resolve()
    assert catalogue_source(tmp_path, None) == tmp_path.resolve()
    for bad in ("../", "/etc", "songs/../..", "missing"):
        try:
            catalogue_source(tmp_path, bad)
        except Exception as exc:
            assert getattr(exc, "status", None) == 422, bad
        else:
            raise AssertionError(f"{bad!r} was accepted")


@pytest.fixture
def own_index(tmp_path: Path, indexed: ServiceSettings, catalogue_dir: Path) -> ServiceSettings:
    """A service over its own index of four of the generated songs (16 stems), free to be rebuilt and edited."""
    songs = tmp_path / "catalogue" / "songs"
    for i in range(4):
        shutil.copytree(catalogue_dir / "songs" / f"song{i}", songs / f"song{i}")
    settings = indexed.model_copy(update={
        "index_dir": tmp_path / "index", "db_url": f"sqlite:///{tmp_path / 'catalogue.sqlite'}",
        "catalogue_dir": tmp_path / "catalogue", "cache_dir": tmp_path / "cache", "run_index_jobs": False,
        "catalogue_poll_seconds": 0.05})
    index_into(settings, songs)
    return settings


def _retrieve(client: TestClient, k: int) -> dict:
    r = client.post("/retrieve", files={"file": ("mix.wav", mix_without("bass", seed=5), "audio/wav")},
                    data={"instrument": "bass", "k": str(k), "instrument_filter": "false"})
    assert r.status_code == 200, r.text
    return r.json()


def test_answers_stay_whole_and_from_one_build_while_a_rebuild_runs_and_fails(own_index: ServiceSettings,
                                                                              monkeypatch) -> None:
    from indexer import build as build_module
    from indexer.build import IndexOptions, build_index

    with TestClient(create_app(own_index)) as client:
        runtime = client.app.state.runtime
        before = runtime.catalogue.current()
        held = set(before.ids().tolist())
        publishing = threading.Event()

        def fail(*_a: object, **_k: object) -> None:
            publishing.set()
            time.sleep(0.5)  # answers keep coming while the rebuild reaches its end, then it fails
            raise RuntimeError("the rebuild failed while publishing")

        monkeypatch.setattr(build_module, "publish", fail)
        errors: list[BaseException] = []
        rebuild_settings = IndexerSettings.over(own_index, workers=0, commit_stems=2, batch_size=2)

        def rebuild() -> None:
            try:
                build_index(own_index.catalogue_dir / "songs", rebuild_settings, runtime.embedder,
                            IndexOptions(rebuild=True))
            except RuntimeError as exc:
                errors.append(exc)

        thread = threading.Thread(target=rebuild)
        thread.start()
        answers = []
        while thread.is_alive() or len(answers) < 3:
            answers.append(_retrieve(client, 5))
            page = client.get("/stems", params={"limit": 500}).json()
            assert page["total"] == 16 and {s["id"] for s in page["items"]} == held
        thread.join()
        assert publishing.is_set() and errors, "the rebuild should have reached its publish and failed"
        answers.append(_retrieve(client, 5))
        monkeypatch.undo()
        for body in answers:
            assert len(body["results"]) == 5 and body["catalogue"]["unavailable"] == 0
            assert body["catalogue"]["build"] == before.number and body["catalogue"]["total"] == 16
            assert {r["stem_id"] for r in body["results"]} <= held
        assert client.get("/readyz").status_code == 200

        # the next job, a plain one, finishes the rebuild; the runtime loads it and answers from it, whole
        build_index(own_index.catalogue_dir / "songs", rebuild_settings, runtime.embedder)
        deadline = time.monotonic() + 30
        while runtime.catalogue.current().number == before.number and time.monotonic() < deadline:
            time.sleep(0.05)
        after = _retrieve(client, 16)
        assert after["catalogue"]["build"] == before.number + 1 and len(after["results"]) == 16


def test_a_hit_whose_stem_was_removed_since_its_build_is_replaced_and_counted(own_index: ServiceSettings) -> None:
    from sqlalchemy import create_engine, text

    with TestClient(create_app(own_index.model_copy(update={"catalogue_poll_seconds": 0.0}))) as client:
        first = _retrieve(client, 3)
        top = first["results"][0]["stem_id"]
        engine = create_engine(own_index.database_url)
        with engine.begin() as conn:  # what a prune does to the row before its build is published
            conn.execute(text("DELETE FROM stems WHERE id = :id"), {"id": top})
        engine.dispose()
        again = _retrieve(client, 3)
        assert len(again["results"]) == 3 and top not in {r["stem_id"] for r in again["results"]}
        assert again["catalogue"]["unavailable"] == 1 and again["catalogue"]["build"] == first["catalogue"]["build"]
        everything = _retrieve(client, 16)
        assert len(everything["results"]) == 15 and everything["catalogue"]["unavailable"] == 1


def test_an_api_started_before_any_index_waits_for_one_and_can_index_its_own(tmp_path: Path, indexed: ServiceSettings,
                                                                           catalogue_dir: Path) -> None:
    from indexer.db import upgrade

    songs = tmp_path / "catalogue" / "songs"
    for i in range(2):
        shutil.copytree(catalogue_dir / "songs" / f"song{i}", songs / f"song{i}")
    settings = indexed.model_copy(update={
        "index_dir": tmp_path / "index", "db_url": f"sqlite:///{tmp_path / 'catalogue.sqlite'}",
        "catalogue_dir": tmp_path / "catalogue", "cache_dir": tmp_path / "cache", "catalogue_poll_seconds": 0.0,
        "index_jobs_poll_seconds": 0.1})
    upgrade(settings.database_url)  # compose's migrate step
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["status"] == "loading"
        assert "no index build is published yet" in ready.json()["detail"] and str(tmp_path) not in ready.text
        assert client.get("/healthz").status_code == 200
        busy = client.get("/stems")
        assert busy.status_code == 503 and "no index build" in busy.json()["error"]["message"]
        job = client.post("/index-jobs", json={"source": "songs"}, headers=KEY)
        assert job.status_code == 202, job.text
        assert _wait(client, job.json()["id"])["status"] == "succeeded"
        deadline = time.monotonic() + 30
        while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert client.get("/readyz").json()["status"] == "ready"
        assert client.get("/stems").json()["total"] == 8


def test_the_job_queue_is_bounded_and_jobs_left_running_are_failed_at_start(own_index: ServiceSettings) -> None:
    from indexer.jobs import JobQueue, mark_running

    queue = JobQueue(own_index.database_url)
    stale = queue.submit(str(own_index.catalogue_dir / "songs"))
    mark_running(queue.sessions, stale.id)  # a runner killed mid-job left this row
    settings = own_index.model_copy(update={"max_queued_jobs": 2, "run_index_jobs": False})
    with TestClient(create_app(settings)) as client:
        codes = [client.post("/index-jobs", json={"source": "songs"}, headers=KEY).status_code for _ in range(3)]
        assert codes == [202, 202, 429]
        runner = JobRunner(IndexerSettings.over(settings, workers=0), client.app.state.runtime.embedder)
        runner.run_once()  # a runner starting up: the row it finds 'running' outlived its runner
        old = client.get(f"/index-jobs/{stale.id}", headers=KEY).json()
        assert old["status"] == "failed" and "interrupted" in old["message"]
        runner.queue.close()
    queue.close()
