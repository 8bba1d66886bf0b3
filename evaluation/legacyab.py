"""53cbbde (the code issue 18 was filed against) as side A of scripts/scale_ab.py (`--legacy`).

That code computes each hit's onset/accent/chroma signature at query time by decoding the stem's catalogue
audio file (service.retrieval.SignatureCache: an LRU of 256 stems), reads frames from float16 packs (store
format 1) and searches only the model's k nearest. Its catalogue is indexer.catalog.Catalogue over SQL; its
Retriever reads only `search(vector, k, instrument=, exclude_song_ids=)`, `size(scope)`, `stems(ids)` (its
StemRecord: path and stream of the audio file) and `frames(id)`, so the worker serves it a duck-typed
catalogue over files that the driver writes beside the simulated catalogues (evaluation.scalecat):

- root/pool-float16: the pool's packs in store format 1 (the frames are the same random unit rows as the
  int8 pool's, before quantisation), 53cbbde's own frame format;
- root/legacy-flac/stem-XX.flac: real 3-minute 44.1 kHz stereo 16-bit FLACs, each tiled from one real stem of
  the source folder (e.g. the four of extra/trackswitch-demo) from its own start; a few dozen distinct files,
  reused across rows: row i (song i // instruments) reads file song mod count;
- root/legacy-<n>/: frames.npy (a link to the pool's float16 frames), frames.ids.npy (stem i -> pool sequence
  i mod pool, as scalecat's tables) and catalogue.json (the vectors folder shared with side B, the FLACs, the
  instruments, the stems' length).

Driver-side functions (write_*, drop_cached) run under this checkout; LegacyCatalogue runs in the worker
(evaluation.servebench.legacy_ab_worker) under 53cbbde's packages, importing only those and numpy (scale_ab's
worker puts this module and evaluation.abclient in sys.modules: 53cbbde's `evaluation` package has neither).
"Cold" for this side: the FLACs' and frames' page cache dropped and the signature LRU emptied.
"""

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

LEGACY_COMMIT = "53cbbde"
FLAC_RATE = 44_100
FLAC_DIR = "legacy-flac"
AUDIO_SUFFIXES = {".mp3", ".flac", ".wav", ".ogg"}


# ---- driver side (this checkout) ----------------------------------------------------------------------------------


def write_flacs(root: Path, source: Path, count: int, seconds: float, rate: int = FLAC_RATE) -> list[Path]:
    """`count` FLACs of `seconds` under root/legacy-flac, file j tiled from source file j mod len(sources),
    starting 20 s later (modulo its length) for each reuse of a source (kept when already there with the same
    recipe)."""
    import soundfile as sf

    from evaluation.scalecat import tiled_stereo
    from model.audio import load_mono

    files = sorted(p for p in Path(source).iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"no audio files in {source}")
    folder = root / FLAC_DIR
    folder.mkdir(parents=True, exist_ok=True)
    recipe = {"source": [f.name for f in files], "count": count, "seconds": seconds, "rate": rate}
    out = [folder / f"stem-{j:02d}.flac" for j in range(count)]
    done = folder / "recipe.json"
    if done.is_file() and json.loads(done.read_text()) == recipe and all(p.is_file() for p in out):
        return out
    waves = [load_mono(f, rate) for f in files]
    n = round(seconds * rate)
    for j, path in enumerate(out):
        wave = waves[j % len(waves)]
        start = (j // len(waves)) * 20 * rate % len(wave)
        sf.write(path, tiled_stereo(wave, n, start), rate, subtype="PCM_16")
    done.write_text(json.dumps(recipe))
    return out


def write_legacy(root: Path, n: int, frames_pack: str, flacs: Sequence[Path], instruments: Sequence[str],
                 stem_seconds: float, frame_dim: int) -> Path:
    """root/legacy-<n>: the frame table of n stems over the float16 pool pack `frames_pack` (under
    root/pool-float16) and catalogue.json; the vectors are side B's, root/vectors-<n>."""
    from evaluation.scalecat import pointing_table
    from indexer.frames import pack_paths

    folder = root / f"legacy-{n}"
    folder.mkdir(parents=True, exist_ok=True)
    pool_data, pool_ids = pack_paths(root / "pool-float16", frames_pack)
    data, ids = pack_paths(folder, "frames")
    if not data.exists():
        data.symlink_to(pool_data.resolve())
    np.save(ids, pointing_table(np.load(pool_ids), n))
    spec = {"stems": n, "frame_dim": frame_dim, "vectors": f"../vectors-{n}", "instruments": list(instruments),
            "flacs": [os.path.relpath(p, folder) for p in flacs], "stem_seconds": stem_seconds,
            "sample_rate": FLAC_RATE}
    (folder / "catalogue.json").write_text(json.dumps(spec, indent=1))
    return folder


def drop_cached(root: Path, n: int) -> int:
    """Drops the page cache of side A's files at n stems: the frames (the pool's float16 pack) and the FLACs."""
    from evaluation.scalecat import drop_cached as drop

    return drop(root / f"legacy-{n}") + drop(root / FLAC_DIR, "*.flac")


# ---- worker side (53cbbde's packages) ------------------------------------------------------------------------------


class LegacyCatalogue:
    """What 53cbbde's Retriever reads of its indexer.catalog.Catalogue, over root/legacy-<n>: the FAISS files
    searched as its Catalogue.search does, its FrameStore over the float16 pack, and StemRecords pointing at the
    FLACs. Stem i is instrument i mod len(instruments) of song i // len(instruments)."""

    def __init__(self, folder: Path) -> None:
        from indexer import vectors
        from indexer.frames import FrameStore

        self._vectors = vectors
        spec = json.loads((folder / "catalogue.json").read_text())
        self.instruments: list[str] = spec["instruments"]
        self.flacs = [str((folder / p).resolve()) for p in spec["flacs"]]
        self.stem_seconds = float(spec["stem_seconds"])
        self.sample_rate = int(spec["sample_rate"])
        self.indexes = {inst: vectors.read(folder / spec["vectors"] / f"{inst}.faiss") for inst in self.instruments}
        self.store = FrameStore(folder, ["frames"], spec["frame_dim"])

    def size(self, instrument: str | None = None) -> int:
        names = [instrument] if instrument is not None else self.instruments
        return sum(int(self.indexes[n].ntotal) for n in names if n in self.indexes)

    def search(self, vector: np.ndarray, k: int, instrument: str | None = None,
               exclude_song_ids: Sequence[int] = ()) -> list[Any]:
        from indexer.catalog import Hit

        if exclude_song_ids:
            raise ValueError("the benchmark's catalogue has no songs to exclude")
        query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        hits = []
        for name in [instrument] if instrument is not None else self.instruments:
            index = self.indexes[name]
            scores, ids = self._vectors.search(index, query, min(k, index.ntotal))
            hits += [Hit(int(i), float(s)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0]
        return sorted(hits, key=lambda h: -h.score)[:k]

    def stems(self, ids: Iterable[int]) -> list[Any]:
        from evaluation.abclient import simulated_stems
        from indexer.catalog import StemRecord

        return simulated_stems(StemRecord, ids, self.instruments, self.stem_seconds, self.sample_rate,
                               lambda song, _: self.flacs[song % len(self.flacs)])

    def frames(self, stem_id: int) -> np.ndarray:
        got = self.store.get(stem_id)
        if got is None:
            raise KeyError(f"stem {stem_id} has no frames")
        return got
