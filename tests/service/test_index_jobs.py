"""Index jobs across replicas: a job is a row of the shared database, so an API instance answers for a job
another one queued, and picks up the build a worker published, without a restart."""

import time
from pathlib import Path

from fastapi.testclient import TestClient

from indexer.jobs import JobRunner
from indexer.settings import IndexerSettings
from service.app import create_app
from service.routers.index_jobs import catalogue_source
from service.settings import ServiceSettings
from tests.service.conftest import API_KEY, SONGS

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
