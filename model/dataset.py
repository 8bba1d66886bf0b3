"""Map-style dataset of context/target pairs over the song cache.

Sample i is a pure function of (seed, i): its song, chunk offset and stem subset come from a generator
seeded with both, so a resumed run (which restarts at sample step * batch) sees exactly the batches an
uninterrupted run would, with any number of loader workers. Each data source (a --data root) is drawn
equally often, so a small real set is not drowned by a large synthetic one.
"""

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from model.cache import CachedSong
from model.sampling import sample_pair


class PairDataset(Dataset[tuple[torch.Tensor, torch.Tensor, int, int]]):
    def __init__(
        self, songs: list[CachedSong], chunk_samples: int, seed: int, silence_dbfs: float,
        gain_jitter_db: float = 0.0, max_resample: int = 16,
    ) -> None:
        if not songs:
            raise ValueError("no training songs: the data folders held no usable multitrack songs")
        self.songs = songs
        self.by_source: list[list[int]] = [  # song numbers per data source
            [i for i, s in enumerate(songs) if s.source == src] for src in sorted({s.source for s in songs})]
        self.chunk = chunk_samples
        self.seed = seed
        self.silence_dbfs = silence_dbfs
        self.gain_jitter_db = gain_jitter_db
        self.max_resample = max_resample

    def __len__(self) -> int:
        return 2**62  # indices are drawn by the sampler, not enumerated

    def _chunk(self, song: CachedSong, rng: np.random.Generator) -> np.ndarray:
        arr = song.load()
        if song.frames <= self.chunk:
            out = np.zeros((arr.shape[0], self.chunk), dtype=np.float32)
            out[:, : song.frames] = arr
            return out
        start = int(rng.integers(0, song.frames - self.chunk + 1))
        return np.asarray(arr[:, start : start + self.chunk], dtype=np.float32)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, int, int]:
        """(context [T], target [T], target's instrument row, song number in `songs`): the song number
        lets a batch-level loss tell a duplicate of the same song's stem from a true negative."""
        rng = np.random.default_rng([self.seed, index])
        for _ in range(self.max_resample * 4):
            pool = self.by_source[int(rng.integers(len(self.by_source)))]
            song_number = pool[int(rng.integers(len(pool)))]
            song = self.songs[song_number]
            for _ in range(self.max_resample):
                pair = sample_pair(self._chunk(song, rng), rng, self.silence_dbfs, self.gain_jitter_db)
                if pair is not None:
                    return (torch.from_numpy(pair.context), torch.from_numpy(pair.target), pair.instrument,
                            song_number)
        raise RuntimeError("could not draw a chunk with two active stems; check the data and silence_dbfs")


class StepSampler(Sampler[int]):
    """Yields sample indices start, start+1, ..., end-1: batch b of step s holds s*B .. s*B+B-1."""

    def __init__(self, start: int, end: int) -> None:
        self.start, self.end = start, end

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(range(self.start, self.end))

    def __len__(self) -> int:
        return self.end - self.start
