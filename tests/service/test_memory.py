"""Peak server memory of the worst upload the default limits allow, measured in a fresh process: the figure
the README's Limits section states (decoding and the whole request on top of a warm server)."""

import json
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from service.settings import ServiceSettings
from tests.conftest import REPO

MIB = 1024 * 1024

# Serves `settings` in-process, answers one small query to warm up, then the worst upload while a thread samples
# the resident set every 2 ms; prints the resident set before it and the peak while it ran.
_MEASURE = """
import io, json, sys, threading, time
import numpy as np, soundfile as sf
from fastapi.testclient import TestClient
from service.app import create_app
from service.settings import load_settings
from tests.conftest import synth_stems

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096

settings = load_settings(**json.loads(sys.argv[1]))
worst = open(sys.argv[2], "rb").read()
buf = io.BytesIO()
sf.write(buf, sum(synth_stems(np.random.default_rng(1), 300.0).values()), 16_000, format="FLAC")
with TestClient(create_app(settings)) as client:
    warm = client.post("/retrieve", files={"file": ("warm.flac", buf.getvalue())}, data={"instrument": "bass"})
    assert warm.status_code == 200, warm.text
    before, peak, done = rss(), [0], threading.Event()
    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss())
            time.sleep(0.002)
    t = threading.Thread(target=sample); t.start()
    r = client.post("/retrieve", files={"file": ("worst.mka", worst)}, data={"instrument": "bass"})
    done.set(); t.join()
print(json.dumps({"status": r.status_code, "before": before, "peak": peak[0]}))
"""


def worst_upload(path: Path, settings: ServiceSettings) -> Path:
    """max_audio_seconds of mono audio at the highest rate whose decoded samples stay within the limit, as FLAC
    in Matroska: decoded by FFmpeg, the path that holds two float32 copies (blocks, then the joined array)."""
    sr = min(settings.max_sample_rate, int(settings.max_decoded_samples / settings.max_audio_seconds))
    with av.open(str(path), "w") as c:
        stream = c.add_stream("flac", rate=sr, layout="mono")
        for second in range(int(settings.max_audio_seconds)):
            t = (np.arange(sr) + second * sr) / sr
            block = (0.2 * np.sin(2 * np.pi * 220 * t) * 32767).astype(np.int16)[None]
            frame = av.AudioFrame.from_ndarray(block, format="s16", layout="mono")
            frame.sample_rate, frame.pts = sr, second * sr
            for packet in stream.encode(frame):
                c.mux(packet)
        for packet in stream.encode():
            c.mux(packet)
    return path


@pytest.mark.slow
def test_peak_memory_of_the_worst_allowed_upload_stays_within_its_bound(indexed: ServiceSettings,
                                                                         tmp_path: Path) -> None:
    default_seconds = ServiceSettings.model_fields["max_audio_seconds"].default
    settings = indexed.model_copy(update={"max_audio_seconds": default_seconds})  # the fixture sets 120 s
    worst = worst_upload(tmp_path / "worst.mka", settings)
    assert worst.stat().st_size < settings.max_upload_bytes
    out = subprocess.run([sys.executable, "-c", _MEASURE, settings.model_dump_json(), str(worst)], cwd=REPO,
                         capture_output=True, text=True, timeout=300, check=True)
    m = json.loads(out.stdout.strip().splitlines()[-1])
    grew = (m["peak"] - m["before"]) / MIB
    print(f"worst allowed upload ({worst.stat().st_size / MIB:.1f} MiB): resident set +{grew:.0f} MiB")
    assert m["status"] == 200
    decoded = 4 * settings.max_decoded_samples / MIB  # one float32 copy of the decoded samples
    assert grew < 3 * decoded  # two copies while decoding, plus analysis and embedding of the 16 kHz wave
