"""Service fixtures: a tiny seeded checkpoint, a small generated catalogue indexed once per session, an app."""

import io
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from fastapi.testclient import TestClient

from service.app import create_app
from service.server import server_config
from service.settings import ServiceSettings, load_settings
from tests.conftest import synth_stems, write_song

API_KEY = "test-key-0123456789"
SONGS = 8


def index_into(settings: ServiceSettings, source: Path) -> None:
    """Migrates the service's database and indexes `source` into its index, as the demo's set-up does."""
    from stemjepa.demo import index_catalogue

    index_catalogue(settings, source, workers=0)


@pytest.fixture(scope="session")
def tiny_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from model.checkpoint import save_checkpoint
    from model.config import load_run_config
    from model.jepa import StemJEPA

    cfg = load_run_config("tiny")
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, StemJEPA(cfg.model), cfg, step=0)
    return path


@pytest.fixture(scope="session")
def catalogue_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight generated songs of 8 s (bass, drums, other, vocals wavs), plus a folder index jobs may scan."""
    root = tmp_path_factory.mktemp("catalogue")
    rng = np.random.default_rng(0)
    for i in range(SONGS):
        write_song(root / "songs" / f"song{i}", rng, seconds=8.0)
    return root


@pytest.fixture(scope="session")
def indexed(tmp_path_factory: pytest.TempPathFactory, tiny_ckpt: Path, catalogue_dir: Path) -> ServiceSettings:
    """Settings of a service whose index holds the generated catalogue (built once per session)."""
    data = tmp_path_factory.mktemp("data")
    settings = load_settings(index_dir=data / "index", db_url=f"sqlite:///{data / 'catalogue.sqlite'}",
                             checkpoint=tiny_ckpt, device="cpu", cache_dir=data / "cache",
                             catalogue_dir=catalogue_dir, api_keys=[API_KEY], load_in_background=False,
                             max_audio_seconds=120.0)
    index_into(settings, catalogue_dir / "songs")
    return settings


@pytest.fixture(scope="session")
def client(indexed: ServiceSettings) -> Iterator[TestClient]:
    with TestClient(create_app(indexed), raise_server_exceptions=False) as c:
        yield c


def wav_bytes(wave: np.ndarray, sr: int = 16_000, subtype: str = "PCM_16") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, wave, sr, format="WAV", subtype=subtype)
    return buf.getvalue()


def mix_without(instrument: str, seed: int = 123, seconds: float = 8.0) -> bytes:
    """A generated mix of three stems: the query for the fourth, `instrument`."""
    stems = synth_stems(np.random.default_rng(seed), seconds)
    return wav_bytes(sum(w for name, w in stems.items() if name != instrument))


@contextmanager
def served(settings: ServiceSettings) -> Iterator[str]:
    """The app of `settings` served as `stemjepa serve` serves it, on a free loopback port, in a background
    thread, until the block ends; yields its URL once it is ready."""
    import httpx
    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = settings.model_copy(update={"host": "127.0.0.1", "port": port})
    server = uvicorn.Server(server_config(create_app(settings), settings, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(url + "/readyz").status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_url(indexed: ServiceSettings) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port, in a background thread."""
    with served(indexed) as url:
        yield url


@pytest.fixture(scope="session")
def pg_indexed(tmp_path_factory: pytest.TempPathFactory, indexed: ServiceSettings,
               catalogue_dir: Path) -> Iterator[ServiceSettings]:
    """The same catalogue indexed into a PostgreSQL database (skips without one, saying why)."""
    from tests.indexer.conftest import _postgres_db

    databases = _postgres_db()
    url = next(databases)
    data = tmp_path_factory.mktemp("pg-data")
    settings = indexed.model_copy(update={"db_url": url, "index_dir": data / "index", "cache_dir": data / "cache"})
    index_into(settings, catalogue_dir / "songs")
    yield settings
    next(databases, None)  # drops the database


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db_client(request: pytest.FixtureRequest) -> Iterator[TestClient]:
    """A client of the generated catalogue's service on SQLite, then on PostgreSQL."""
    name = "indexed" if request.param == "sqlite" else "pg_indexed"
    with TestClient(create_app(request.getfixturevalue(name)), raise_server_exceptions=False) as c:
        yield c
