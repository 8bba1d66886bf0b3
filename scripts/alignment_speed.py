"""Times the alignment of a request's hits, the code of a git revision (A, e.g. the one before issue 18b) against
the working tree's (B), interleaved hit by hit on the same signatures: per hit, align_frames on the model frames
and the default fusion (band onsets, chroma, accents) against 3-minute stems, for 30 s and 3-minute mixes.
Prints per-stage medians and the B/A ratios of the medians and of each pair.

    python scripts/alignment_speed.py --before 63278e0 --source /path/to/stems --hits 10 --requests 5

Onset and chroma rows: the analysis of the audio files in --source (tiled to 3 minutes), else synthesised;
frames: random unit rows (the cost depends on their shape only). Each request aligns --hits stems, each read
anew (as Build.signature does), against one query signature, so what is kept per query is reused as it would be.
"""

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

import numpy as np

from analysis import alignment
from analysis.chroma import CHROMA_HOP_STEPS, ONSET_HOP_SECONDS
from analysis.signature import Signature
from evaluation.scalecat import real_rows

FRAME_SECONDS = 0.16
STEM_SECONDS = 180.0


def load_revision(rev: str) -> ModuleType:
    """analysis/alignment.py as it was at `rev`, imported under another name."""
    text = subprocess.run(["git", "show", f"{rev}:analysis/alignment.py"], check=True, capture_output=True,
                          text=True).stdout
    path = Path(tempfile.mkdtemp()) / "alignment_before.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("alignment_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def hit(impl: ModuleType, qf: np.ndarray, sf: np.ndarray, q: Signature, onsets: np.ndarray,
        chroma: np.ndarray) -> tuple[float, float, list[float]]:
    """(align_frames ms, fusion ms, offsets) of one hit, its stem signature read anew from its rows."""
    t0 = time.perf_counter()
    curve = impl.align_frames(qf, sf, FRAME_SECONDS, 2.0).curve
    t1 = time.perf_counter()
    stem = Signature.from_stored(onsets, chroma)
    offsets = impl.fused_offsets(curve, FRAME_SECONDS, q, stem, impl.DEFAULT_FUSION, 3)
    t2 = time.perf_counter()
    return (t1 - t0) * 1000, (t2 - t1) * 1000, offsets


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--before", default="63278e0", help="git revision of A")
    p.add_argument("--source", type=Path, default=None, help="folder of real stems for the onset/chroma rows")
    p.add_argument("--hits", type=int, default=10)
    p.add_argument("--requests", type=int, default=5)
    p.add_argument("--mix-seconds", default="30,180")
    args = p.parse_args()
    old = load_revision(args.before)
    rows = real_rows(args.source, seconds=STEM_SECONDS)
    rng = np.random.default_rng(0)
    n_on, n_fr = round(STEM_SECONDS / ONSET_HOP_SECONDS), int(np.ceil(STEM_SECONDS / FRAME_SECONDS))
    stems = []
    for i in range(args.hits):
        shift = int(rng.integers(0, n_on))
        on = np.roll(np.resize(rows.onsets[i % len(rows.onsets)], (n_on, 5)), shift, axis=0)
        ch = np.roll(np.resize(rows.chroma[i % len(rows.chroma)], (n_on // CHROMA_HOP_STEPS, 12)),
                     shift // CHROMA_HOP_STEPS, axis=0)
        fr = rng.standard_normal((n_fr, 128)).astype(np.float32)
        stems.append((on, ch, fr / np.linalg.norm(fr, axis=1, keepdims=True)))
    for seconds in (float(s) for s in args.mix_seconds.split(",")):
        n_q = round(seconds / ONSET_HOP_SECONDS)
        times: dict[str, list[tuple[float, float]]] = {"A": [], "B": []}
        for r in range(args.requests):
            on, ch, fr = stems[r % len(stems)]
            start = int(rng.integers(0, n_on - n_q + 1))
            q_on = on[start : start + n_q] + 0.3 * rng.standard_normal((n_q, 5)).astype(np.float32)
            q_ch = ch[start // CHROMA_HOP_STEPS : (start + n_q) // CHROMA_HOP_STEPS]
            f0 = round(start * ONSET_HOP_SECONDS / FRAME_SECONDS)
            qf = fr[f0 : f0 + round(seconds / FRAME_SECONDS)]
            for name, impl in (("A", old), ("B", alignment)) if r % 2 == 0 else (("B", alignment), ("A", old)):
                q = Signature.from_stored(q_on, q_ch)  # a request's query signature, fresh per request
                for s_on, s_ch, s_fr in stems:
                    a_ms, f_ms, _ = hit(impl, qf, s_fr, q, s_on, s_ch)
                    times[name].append((a_ms, f_ms))
        a, b = np.asarray(times["A"]), np.asarray(times["B"])
        ratio = (b.sum(1) / a.sum(1))
        print(f"{seconds:.0f} s mix vs {STEM_SECONDS:.0f} s stems, {len(a)} hits each: "
              f"A align_frames {np.median(a[:, 0]):.1f} ms, fusion {np.median(a[:, 1]):.1f} ms, "
              f"hit {np.median(a.sum(1)):.1f} ms | B align_frames {np.median(b[:, 0]):.1f} ms, "
              f"fusion {np.median(b[:, 1]):.1f} ms, hit {np.median(b.sum(1)):.1f} ms | B/A of medians: "
              f"align_frames {np.median(b[:, 0]) / np.median(a[:, 0]):.2f}, fusion "
              f"{np.median(b[:, 1]) / np.median(a[:, 1]):.2f}, hit {np.median(b.sum(1)) / np.median(a.sum(1)):.2f}; "
              f"pairwise hit ratio median {np.median(ratio):.2f} (min {ratio.min():.2f}, max {ratio.max():.2f})")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
