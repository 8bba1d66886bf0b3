"""Analysis store: every indexed stem's musical analysis (analysis.music.StoredAnalysis) beside its frames,
so that queries rank and align against the catalogue without decoding any of its audio.

Four kinds of pack per published build, in the frame store's layout (indexer.frames: data, parameters and
id table, written atomically, memory-mapped when read, later packs win):
  features-<build>  float32 [1, F] per stem   key profile, pitch classes, tempogram, tempo and grid scalars
  onsets-<build>    uint8 codes per stem       the band onset envelopes at 20 ms, 4-bit (BandOnsets, CODECS)
  chroma-<build>    uint8 codes per stem       alignment chroma at 80 ms, 4-bit + row scale (RowNibbles)
(0.37 + 0.32 MB per hour of audio; indexer.codecs, chosen in MODEL_CARD.md, "What the index stores").
  beats-<build>     float32 [B, 1] per stem   beat times, s
Format 2 packs (onsets int8 [N, 5 + 2] at 10 ms, chroma int8 [M, 12 + 2], 8-bit rows with their float16
scale: 2.5 + 1.3 MB per hour of audio) and format 1 ones (float16 rows) are still read.
The manifest lists them under `analysis_packs` with `analysis_version`.
"""

import logging
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analysis.music import FEATURES
from analysis.signature import Signature
from indexer.chunks import chunk_analysis_index, chunk_analysis_rows
from indexer.codecs import BandOnsets, Codec, RowNibbles
from indexer.frames import FrameStore, read_pack_ids, stored_rows, write_pack

log = logging.getLogger(__name__)

KINDS: dict[str, tuple[int, type]] = {  # kind -> (row width, stored dtype without a codec)
    "features": (FEATURES.width, np.float32),
    "onsets": (5, np.int8),
    "chroma": (12, np.int8),
    "beats": (1, np.float32),
}
ANALYSIS_FORMAT = 3  # the store format new analysis packs are written in
# Format 3: the codec each kind's new packs are written with (kinds without one keep float32 rows).
CODECS: dict[str, Codec] = {
    "onsets": BandOnsets(bands=4, step=2, bits=4),
    "chroma": RowNibbles(width=12, step=2),
}


AnalysisPlan = list[tuple[Path, list[int]]]  # chunk path -> positions of the stems whose analysis to publish


def plan_analyses(chunks: Sequence[Path], live: Collection[int]) -> AnalysisPlan:
    """Which chunk holds the analysis to publish for each live stem: the newest one that has it."""
    taken: set[int] = set()
    plan: AnalysisPlan = []
    for path in reversed(chunks):  # names sort by age: newest first
        ids, present, _ = chunk_analysis_index(path)
        positions = [j for j, i in enumerate(ids.tolist()) if present[j] and i in live and i not in taken]
        taken.update(int(ids[j]) for j in positions)
        plan.append((path, positions))
    return plan[::-1]


def write_analysis_packs(index_dir: Path, build: int, plan: AnalysisPlan,
                         store_format: int = ANALYSIS_FORMAT) -> dict[str, str]:
    """Writes one pack of each kind for the planned stems (streamed from their chunks) in `store_format` (3:
    CODECS, 2: 8-bit rows); kind -> pack name. Nothing is written (an empty mapping) when the plan holds no
    stem."""
    if not any(positions for _, positions in plan):
        return {}
    names = {}
    for kind, (width, dtype) in KINDS.items():
        codec = CODECS.get(kind) if store_format >= 3 else None
        counts = (int(n) for path, positions in plan if positions
                  for n in chunk_analysis_index(path)[2][kind][positions])
        rows = (item for path, positions in plan if positions for item in chunk_analysis_rows(path, kind, positions))
        name = f"{kind}-{build:06d}"
        write_pack(index_dir, name, rows, stored_rows(counts, codec), width, dtype, codec)
        names[kind] = name
    return names


def pack_names(manifest: Mapping[str, object] | None) -> dict[str, list[str]]:
    """kind -> pack names of a manifest (empty lists for a build without analyses)."""
    packs = (manifest or {}).get("analysis_packs") or {}
    assert isinstance(packs, dict)
    return {kind: list(packs.get(kind, [])) for kind in KINDS}


@dataclass(frozen=True)
class AnalysisStore:
    """Read side: stem id -> feature row, signature and beats, from one build's packs."""

    features_ids: np.ndarray  # [N] ascending
    features: np.ndarray  # [N, F] float32
    sequences: dict[str, FrameStore]

    @classmethod
    def open(cls, index_dir: Path, manifest: Mapping[str, object], only: np.ndarray | None = None) -> "AnalysisStore":
        names = pack_names(manifest)
        stores = {kind: FrameStore(index_dir, names[kind], width, only=only, codec=CODECS.get(kind))
                  for kind, (width, _) in KINDS.items()}
        ids, rows = stores["features"].first_rows()
        return cls(ids, rows, {k: v for k, v in stores.items() if k != "features"})

    def __len__(self) -> int:
        return len(self.features_ids)

    def rows(self, stem_ids: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Feature rows [n, F] of `stem_ids` and a mask [n] of those the store holds (zero rows elsewhere)."""
        ids = np.asarray(stem_ids, dtype=np.int64)
        at = np.searchsorted(self.features_ids, ids)
        found = (at < len(self.features_ids)) & (self.features_ids[np.minimum(at, len(self.features_ids) - 1)] == ids)
        out = np.zeros((len(ids), FEATURES.width), np.float32)
        if len(self.features_ids):
            out[found] = self.features[at[found]]
        return out, found

    def signature(self, stem_id: int, stretch: float = 1.0) -> Signature | None:
        """The stem's alignment signature (played `stretch` times faster: analysis.signature.stretched), or
        None when the build holds no analysis of it."""
        onsets = self.sequences["onsets"].get(int(stem_id))
        chroma = self.sequences["chroma"].get(int(stem_id))
        if onsets is None or chroma is None:
            return None
        return Signature.from_stored(onsets, chroma, stretch)

    def beats(self, stem_id: int) -> np.ndarray | None:
        """Beat times [B] (s) of the stem, or None."""
        got = self.sequences["beats"].get(int(stem_id))
        return None if got is None else got[:, 0]


def analysed_ids(index_dir: Path, manifest: Mapping[str, object] | None) -> Iterator[int]:
    """Stem ids whose analysis a manifest's packs hold (every analysed stem has a features row)."""
    for name in pack_names(manifest)["features"]:
        yield from (int(i) for i in read_pack_ids(index_dir, name))
