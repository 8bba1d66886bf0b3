"""`stemjepa demo` from nothing: generates songs, migrates, indexes, serves; an upload gets k results."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from stemjepa.demo import SAMPLE_MIX, prepare_demo
from tests.conftest import REPO, write_song
from tests.service.test_api import RESULT_FIELDS


@pytest.mark.slow
def test_demo_serves_retrieval_on_localhost(tmp_path: Path, tiny_checkpoint: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = (tmp_path / "demo.log").open("w")
    cmd = [sys.executable, "-m", "stemjepa", "demo", "--checkpoint", str(tiny_checkpoint), "--songs", "2",
           "--seconds", "6", "--data-dir", str(tmp_path / "data"), "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            env={**os.environ, "COLUMNS": "200"})
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            if proc.poll() is not None:
                pytest.fail("demo exited early:\n" + (tmp_path / "demo.log").read_text()[-3000:])
            try:
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        sample = SAMPLE_MIX.read_bytes()  # the file the printed curl line sends
        r = httpx.post(url + "/retrieve", files={"file": ("sample-mix.flac", sample, "audio/flac")},
                       data={"instrument": "bass", "k": "2"}, timeout=60)
        assert r.status_code == 200, r.text
        results = r.json()["results"]
        assert len(results) == 2 and all(set(res) == RESULT_FIELDS for res in results)
        # demo songs are named from their plans: "Funk in D dorian, 104 BPM"
        assert all(re.fullmatch(r"[A-Z].* in [A-G][#b]? \w+, \d+ BPM", res["title"]) for res in results), results
        assert httpx.get(url + "/static/sample-mix.flac", timeout=10).content == sample
        assert httpx.get(url + results[0]["audio_url"], timeout=10).status_code == 200
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    output = (tmp_path / "demo.log").read_text()
    assert str(tiny_checkpoint) in output and "checkpoint given with --checkpoint" in output
    assert f"http://127.0.0.1:{port}/" in output
    assert f"curl -F file=@{SAMPLE_MIX}" in output.replace("\n", "")


def test_sample_mix_is_a_synthetic_mix_without_bass() -> None:
    import soundfile as sf

    info = sf.info(SAMPLE_MIX)
    assert info.channels == 1 and 14.9 < info.duration < 15.1 and SAMPLE_MIX.stat().st_size < 1_000_000


def test_demo_with_a_catalogue_serves_that_catalogue_alone(tmp_path: Path, tiny_checkpoint: Path) -> None:
    import numpy as np
    from rich.console import Console

    from indexer.catalog import Catalogue

    rng = np.random.default_rng(1)
    first, second = tmp_path / "first", tmp_path / "second"
    write_song(first / "song a", rng, seconds=3.0)
    for name in ("song b", "song c"):
        write_song(second / name, rng, seconds=3.0)
    quiet = Console(quiet=True)
    one = prepare_demo(tmp_path / "data", first, 2, 4.0, tiny_checkpoint, quiet)
    two = prepare_demo(tmp_path / "data", second, 2, 4.0, tiny_checkpoint, quiet)
    assert one.index_dir != two.index_dir and one.database_url != two.database_url
    for settings, stems in ((one, 4), (two, 8)):
        cat = Catalogue.open(settings.database_url, settings.index_dir)
        assert cat.size() == stems
        cat.close()
