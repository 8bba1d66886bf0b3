"""The musical analysis (`analysis.music.analyse`) of a git revision beside the working tree's, and the real
audio to compare them on; for scripts/analysis_equal.py and scripts/analysis_speed.py.

The revision's `analysis` package is written to a temporary folder under another name, its imports of
`analysis.` pointed at that name; `model` and everything else still come from the working tree.
"""

import importlib
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np

from model.audio import read_audio, read_streams, resample, to_mono

MUSDB_STREAMS = ("mix", "drums", "bass", "other", "vocals")


def load_analysis(rev: str, alias: str = "analysis_before") -> ModuleType:
    """`analysis.music` as it was at `rev`, imported as `<alias>.music` (its sibling modules likewise)."""
    names = subprocess.run(["git", "ls-tree", "--name-only", rev, "analysis/"], check=True, capture_output=True,
                           text=True).stdout.split()
    root = Path(tempfile.mkdtemp())
    package = root / alias
    package.mkdir()
    for name in names:
        if not name.endswith(".py"):
            continue
        text = subprocess.run(["git", "show", f"{rev}:{name}"], check=True, capture_output=True, text=True).stdout
        (package / Path(name).name).write_text(re.sub(r"\b(from|import) analysis\.", rf"\1 {alias}.", text))
    sys.path.insert(0, str(root))
    return importlib.import_module(f"{alias}.music")


def real_waves(data: Path, songs: int, sample_rate: int) -> Iterator[tuple[str, np.ndarray]]:
    """(name, mono wave at `sample_rate`) of every stream (mix and stems) of the first `songs` MUSDB songs
    of `data`/musdb18-7/train, then of every audio file of `data`/extra/*, decoded as the indexer does."""
    for song in sorted((data / "musdb18-7" / "train").glob("*.stem.mp4"))[:songs]:
        for stream, audio in zip(MUSDB_STREAMS, read_streams(song), strict=False):
            yield f"{song.name.removesuffix('.stem.mp4')}/{stream}", resample(to_mono(audio.samples),
                                                                             audio.sample_rate, sample_rate)
    for path in sorted((data / "extra").glob("*/*.mp3")):
        audio = read_audio(path)
        yield f"{path.parent.name}/{path.stem}", resample(to_mono(audio.samples), audio.sample_rate, sample_rate)
