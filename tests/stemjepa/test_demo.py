"""`stemjepa demo` from nothing: generates songs, migrates, indexes, serves; an upload gets k results."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO
from tests.service.conftest import mix_without
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
        r = httpx.post(url + "/retrieve", files={"file": ("mix.wav", mix_without("bass"), "audio/wav")},
                       data={"instrument": "bass", "k": "2"}, timeout=60)
        assert r.status_code == 200, r.text
        results = r.json()["results"]
        assert len(results) == 2 and all(set(res) == RESULT_FIELDS for res in results)
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
