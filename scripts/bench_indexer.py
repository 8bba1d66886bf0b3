"""Indexing throughput per model size: audio seconds indexed per wall-clock second, end to end.

Each size gets a random-initialised model (speed does not depend on training), a fresh SQLite database and
index dir, and the first `--files` .stem.mp4 files of the catalogue (4 stems each); the whole job (decode
in workers, embed, durable commits, publish) is timed, and the embed stage separately.
Run: .venv/bin/python scripts/bench_indexer.py ../shared/data/musdb18-7/valid --sizes tiny small base --files 5
"""

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from indexer.build import build_index
from indexer.db import upgrade
from indexer.settings import load_settings
from model.checkpoint import save_checkpoint
from model.config import load_run_config
from model.embed import Embedder
from model.jepa import StemJEPA

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("catalogue", type=Path)
    p.add_argument("--sizes", nargs="+", default=["tiny", "small", "base"])
    p.add_argument("--files", type=int, nargs="+", default=[5], help="files per size (one value, or one per size)")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--device", default="cpu")
    a = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    files = sorted(a.catalogue.glob("*.stem.mp4"))
    for i, size in enumerate(a.sizes):
        n_files = a.files[i] if len(a.files) > 1 else a.files[0]
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            cat = tmp / "catalogue"
            cat.mkdir()
            for f in files[:n_files]:
                (cat / f.name).symlink_to(f.resolve())
            cfg = load_run_config(REPO / "configs" / "train" / f"{size}.yaml")
            torch.manual_seed(0)
            save_checkpoint(tmp / "model.pt", StemJEPA(cfg.model), cfg, step=0)
            settings = load_settings(db_url=f"sqlite:///{tmp / 'db.sqlite'}", index_dir=tmp / "index",
                                     checkpoint=tmp / "model.pt", device=a.device, workers=a.workers,
                                     batch_size=a.batch_size)
            upgrade(settings.database_url)
            embedder = Embedder.from_checkpoint(tmp / "model.pt", a.device, batch_size=a.batch_size)
            start = time.perf_counter()
            report = build_index(cat, settings, embedder)
            wall = time.perf_counter() - start
            print(json.dumps({
                "size": size, "device": a.device, "torch_threads": torch.get_num_threads(), "stems": report.added,
                "audio_s": round(report.audio_seconds, 1), "wall_s": round(wall, 1),
                "audio_s_per_s": round(report.audio_seconds / wall, 2),
                "embed_stage_audio_s_per_s": round(report.audio_seconds_per_second, 2),
                "dim": embedder.dim, "frame_dim": embedder.frame_dim,
            }), flush=True)


if __name__ == "__main__":
    main()
