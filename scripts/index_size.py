"""Index size per hour of audio, store format 2 beside format 3, measured on disk: indexes the same catalogue
with the real indexer (indexer.build.build_index, the shipped checkpoint on the CPU) once per store format, each
into its own folder and SQLite database, and prints the bytes of each component (frames, onsets, chroma, beats,
features, FAISS, manifest, SQL) over the hours of audio indexed. Only files the published manifest names count.

Each argument is a folder of songs (song folders or .stem.mp4 files) or one song folder; songs are copied into
a temporary catalogue (the indexer refuses files that resolve outside its root).

    PYTHONPATH=. .venv/bin/python scripts/index_size.py ../shared/data/extra/trackswitch-demo \\
        ../shared/data/musdb18-7/train --limit 16 --out runs/index-size.json
"""

import argparse
import json
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from indexer.build import build_index
from indexer.db import upgrade
from indexer.frames import PACK_SUFFIXES
from indexer.manifest import MANIFEST_NAME, read_manifest
from indexer.settings import load_settings
from model.embed import Embedder
from model.split import song_entries

COMPONENTS = ("frames", "onsets", "chroma", "beats", "features", "faiss", "manifest", "sql")


def copy_songs(sources: list[Path], into: Path, limit: int | None) -> None:
    for source in sources:
        songs = song_entries(source)
        if not any(p.name.endswith(".stem.mp4") for p in songs) and not any(p.is_dir() for p in songs):
            songs = [source]  # a song folder of stem files
        for song in songs[:limit]:
            if song.is_dir():
                shutil.copytree(song, into / song.name)
            else:
                shutil.copyfile(song, into / song.name)


def component_bytes(index_dir: Path, sqlite: Path) -> dict[str, int]:
    """Bytes on disk of each component of the published build."""
    manifest = read_manifest(index_dir)
    assert manifest is not None
    out = dict.fromkeys(COMPONENTS, 0)
    packs = {"frames": manifest["frame_packs"], **manifest.get("analysis_packs", {})}
    for kind, names in packs.items():
        for name in names:
            out[kind] += sum((index_dir / f"{name}{s}").stat().st_size for s in PACK_SUFFIXES
                             if (index_dir / f"{name}{s}").is_file())
    out["faiss"] = sum((index_dir / e["file"]).stat().st_size for e in manifest["instruments"].values())
    out["manifest"] = (index_dir / MANIFEST_NAME).stat().st_size
    out["sql"] = sqlite.stat().st_size
    return out


def measure(catalogue: Path, root: Path, store_format: int, embedder: Embedder, workers: int) -> dict[str, Any]:
    index_dir, sqlite = root / f"index-{store_format}", root / f"catalogue-{store_format}.sqlite"
    settings = load_settings(index_dir=index_dir, db_url=f"sqlite:///{sqlite}", workers=workers,
                             store_format=store_format)
    upgrade(settings.database_url)
    report = build_index(catalogue, settings, embedder=embedder)
    sizes = component_bytes(index_dir, sqlite)
    hours = report.audio_seconds / 3600
    alignment = sum(sizes[k] for k in ("frames", "onsets", "chroma"))
    return {"store_format": store_format, "stems": report.added, "audio_hours": hours, "bytes": sizes,
            "mb_per_hour": {k: v / hours / 1e6 for k, v in sizes.items()},
            "alignment_mb_per_hour": alignment / hours / 1e6,
            "total_mb_per_hour": sum(sizes.values()) / hours / 1e6}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sources", type=Path, nargs="+")
    p.add_argument("-c", "--checkpoint", type=Path, default=None)
    p.add_argument("--limit", type=int, default=None, help="Songs per source folder.")
    p.add_argument("--workers", type=int, default=0, help="Decoding processes (0: in the main process).")
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    embedder = Embedder.from_checkpoint(args.checkpoint, device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        catalogue = root / "catalogue"
        catalogue.mkdir()
        copy_songs(args.sources, catalogue, args.limit)
        rows = [measure(catalogue, root, fmt, embedder, args.workers) for fmt in (2, 3)]
    print(f"{rows[0]['stems']} stems, {rows[0]['audio_hours'] * 60:.1f} min of audio; MB per hour of audio:")
    print(f"  {'component':>10} " + " ".join(f"{'format ' + str(r['store_format']):>9}" for r in rows))
    for k in COMPONENTS:
        print(f"  {k:>10} " + " ".join(f"{r['mb_per_hour'][k]:9.3f}" for r in rows))
    print(f"  {'alignment':>10} " + " ".join(f"{r['alignment_mb_per_hour']:9.3f}" for r in rows)
          + "   (frames + onsets + chroma)")
    print(f"  {'total':>10} " + " ".join(f"{r['total_mb_per_hour']:9.3f}" for r in rows))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
