"""Packs training data for a GPU machine that can take only a small working tree and has no FFmpeg.

    python scripts/device_pack.py --out .devpack --synth /work/corpus/synth-train --synth-songs 120

A lent GPU machine receives at most 64 MiB with the repository and can install nothing from a registry,
so the songs travel as mono 16 kHz Ogg Opus stems (libsndfile decodes them; model.audio needs PyAV only
for compressed containers). Every song becomes a folder of `<instrument>.ogg` files, the layout
`model.multitrack.discover` reads, so `model/train.py` trains from the pack unchanged:

    musdb-fit/       MUSDB18-7 train minus the hold-out (the seeded split of scripts/train-shipped.sh)
    musdb-holdout/   the 10 held-out train songs: the selection set that chooses best.pt
    musdb-valid/     MUSDB18-7 valid, only for the run's monitor log (never chooses anything)
    synth/           the first --synth-songs songs of a rendered synthetic corpus

The stems are encoded at two rates: real songs at --real-kbps-level (about 32 kb/s: about 1.3 dB mean
log-mel error on active bins, measured on synthetic stems), synthetic ones at the lower --synth-level so
that more songs fit. Silent stems are left out (the training cache zero-fills absent classes). The pack is
data under the data's own licences: it lives in an ignored folder and is never committed.
"""

import sys
from pathlib import Path

if __name__ == "__main__" and __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import json
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import soundfile as sf

from model.audio import rms_dbfs
from model.instruments import InstrumentVocabulary
from model.multitrack import SongRef, decode_song, discover
from model.split import split_songs

SAMPLE_RATE = 16_000
SILENT_DBFS = -60.0


def safe_name(song_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", song_id).strip("_") or "song"


def pack_song(song: SongRef, out: Path, level: float) -> int:
    """Writes one song's non-silent stems as Ogg Opus; returns the bytes written."""
    folder = out / safe_name(song.song_id)
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for inst, wave in decode_song(song, SAMPLE_RATE).items():
        if rms_dbfs(wave) < SILENT_DBFS:
            continue
        file = folder / f"{inst}.ogg"
        peak = float(np.max(np.abs(wave))) if wave.size else 0.0
        sf.write(file, wave / peak if peak > 1.0 else wave, SAMPLE_RATE, format="OGG", subtype="OPUS",
                 compression_level=level)
        written += file.stat().st_size
    return written


def pack_folder(songs: list[SongRef], out: Path, level: float, workers: int) -> dict[str, float]:
    with ThreadPoolExecutor(workers) as pool:
        sizes = list(pool.map(lambda s: pack_song(s, out, level), songs))
    return {"songs": len(songs), "mb": sum(sizes) / 1e6}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path(".devpack"))
    p.add_argument("--musdb", type=Path, default=Path("../shared/data/musdb18-7"))
    p.add_argument("--synth", type=Path, required=True, help="rendered synthetic corpus (stemjepa synth)")
    p.add_argument("--synth-songs", type=int, default=120)
    p.add_argument("--holdout-songs", type=int, default=10)
    p.add_argument("--seed", type=int, default=2024, help="the split's seed (scripts/train-shipped.sh)")
    p.add_argument("--real-level", type=float, default=0.9, help="libsndfile Opus compression level, real songs")
    p.add_argument("--synth-level", type=float, default=0.95, help="the same for synthetic songs")
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()
    vocab = InstrumentVocabulary()
    report: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        fit, holdout = Path(tmp) / "fit", Path(tmp) / "holdout"
        split_songs(args.musdb / "train", fit, holdout, args.holdout_songs, args.seed)
        for name, root in (("musdb-fit", fit), ("musdb-holdout", holdout), ("musdb-valid", args.musdb / "valid")):
            report[name] = pack_folder(discover(root, vocab).songs, args.out / name, args.real_level, args.workers)
    synth = discover(args.synth, vocab).songs[: args.synth_songs]
    report["synth"] = pack_folder(synth, args.out / "synth", args.synth_level, args.workers)
    (args.out / "pack.json").write_text(json.dumps({"sample_rate": SAMPLE_RATE, "real_level": args.real_level,
                                                    "synth_level": args.synth_level, "synth": str(args.synth),
                                                    "folders": report}, indent=1))
    for name, r in report.items():
        print(f"{name:14s} {int(r['songs']):4d} songs {r['mb']:6.1f} MB")


if __name__ == "__main__":
    main()
