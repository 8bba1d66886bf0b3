"""The long-excerpt alignment protocol: windows of real or synthetic multitracks, each stem trimmed by a known
amount and aligned, as the service aligns a hit, against the mix of the other stems; offsets scored within
20, 80 and 160 ms of the truth and on the beat, per instrument.

For each song and stem: a window of the song (seeded starts on long songs, the whole song when it is no
longer than the window) is the upload, its other stems mixed; the "catalogue stem" is the stem over the
window with its first t seconds cut (t seeded in [0, max_cut]), so the true offset is t. The stem is embedded
and analysed as the indexer does (frames and signature stored as float16, `analyse(...).stored()`), the mix
as the service does (the predictor's frames and its float32 analysis). Every file of a song folder is its
own stem (two files of one class stay apart, as the indexer keeps them); its class drives the predictor.
"""

import json
import logging
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from analysis.alignment import MIN_OVERLAP_SECONDS, align_frames
from analysis.music import StoredAnalysis, analyse
from model.audio import load_mono, read_streams, resample, rms_dbfs, to_mono
from model.embed import Embedder
from model.instruments import InstrumentVocabulary
from model.multitrack import discover

log = logging.getLogger(__name__)

TOLERANCES_SECONDS = (0.02, 0.08, 0.16)
BEAT_TOLERANCE_SECONDS = 0.08
SILENCE_DBFS = -50.0  # stems or mixes quieter than this over a window are not queried


@dataclass(frozen=True)
class Multitrack:
    """song_id; stems: the stem's own name -> (instrument class, mono float32 wave [T] at the model rate)."""

    song_id: str
    stems: dict[str, tuple[str, np.ndarray]]

    @property
    def seconds(self) -> float:
        return 0.0 if not self.stems else min(len(w) for _, w in self.stems.values())

    def mix(self, leave_out: str | None = None) -> np.ndarray:
        """The sum of the stems (all but `leave_out`), cut to the shortest [T]."""
        n = int(self.seconds)
        return np.sum([w[:n] for name, (_, w) in self.stems.items() if name != leave_out], axis=0).astype(np.float32)


def load_multitracks(root: str | Path, sample_rate: int, vocab: InstrumentVocabulary | None = None,
                     limit: int | None = None) -> list[Multitrack]:
    """Every song under `root` (model.multitrack.discover), each file or stream decoded as its own stem."""
    found = discover(root, vocab)
    for path, reason in found.unresolved:
        log.warning("skipping %s: %s", path, reason)
    songs = []
    for ref in found.songs[:limit] if limit is not None else found.songs:
        streams = {}
        if any(s.stream is not None for s in ref.stems):
            streams = {i: resample(to_mono(a.samples), a.sample_rate, sample_rate)
                       for i, a in enumerate(read_streams(ref.stems[0].path))}
        stems = {s.name: (s.instrument, streams[s.stream] if s.stream is not None else load_mono(s.path, sample_rate))
                 for s in ref.stems}
        songs.append(Multitrack(ref.song_id, stems))
    return songs


@dataclass(frozen=True)
class Excerpt:
    """One case: `stem` of `song_id` over [window_start, window_start + window_seconds) (s), its first `cut`
    seconds removed (the true offset) and its last `end_cut` seconds, queried as `instrument`; beat_seconds:
    the song's beat period."""

    song_id: str
    stem: str
    instrument: str
    window_start: float
    window_seconds: float
    cut: float
    beat_seconds: float
    end_cut: float = 0.0


def window_starts(span: tuple[float, float], window: float, count: int, rng: np.random.Generator) -> list[float]:
    """`count` seeded starts (s, 10 ms steps) of windows lying inside `span` (s), or the span's start when
    the span is no longer than the window."""
    lo, hi = span
    if hi - lo <= window + 0.5:
        return [lo]
    return sorted(round(float(s), 2) for s in rng.uniform(lo, hi - window, count))


def plan_excerpts(songs: Sequence[Multitrack], sample_rate: int, window: float, windows: int, trims: int,
                  max_cut: float, seed: int, beat_seconds: Callable[[Multitrack], float],
                  span: tuple[float, float] = (0.0, np.inf), max_end_cut: float = 0.0) -> list[Excerpt]:
    """The cases of one seed: per song `windows` window starts inside `span` (s; e.g. one half of a long
    song for development, the other held out), per window and live stem `trims` cuts drawn in [0, max_cut] s
    (10 ms steps), and as many end cuts in [0, max_end_cut] (so that the stem need not end where the query
    does). Stems or mixes silent over a window are left out."""
    rng = np.random.default_rng(seed)
    out: list[Excerpt] = []
    for song in songs:
        seconds = song.seconds / sample_rate
        beat = beat_seconds(song)
        for start in window_starts((span[0], min(span[1], seconds)), window, windows, rng):
            length = min(window, seconds - start)
            lo, hi = round(start * sample_rate), round((start + length) * sample_rate)
            for name, (instrument, wave) in song.stems.items():
                cuts = np.round(rng.uniform(0.0, max_cut, trims), 2)
                ends = np.round(rng.uniform(0.0, max_end_cut, trims), 2) if max_end_cut > 0 else np.zeros(trims)
                if rms_dbfs(wave[lo:hi]) <= SILENCE_DBFS or rms_dbfs(song.mix(name)[lo:hi]) <= SILENCE_DBFS:
                    continue
                out.extend(Excerpt(song.song_id, name, instrument, start, length, float(c), beat, float(e))
                           for c, e in zip(cuts, ends, strict=True))
    return out


@dataclass(frozen=True)
class AlignmentInputs:
    """What the service holds when it aligns one hit: the query's predicted frames [Tq, D] and analysis
    (float32, as computed per request), the stem's frames [Ts, D] and analysis as the index stores them."""

    query_frames: np.ndarray
    query: StoredAnalysis
    stem_frames: np.ndarray
    stem: StoredAnalysis


def _float32_analysis(wave: np.ndarray, sample_rate: int) -> StoredAnalysis:
    """The query's analysis in the stored layout, kept at float32 (the service never stores it)."""
    a = analyse(wave, sample_rate)
    return StoredAnalysis(a.vector(), a.signature.onset_rows(), a.signature.chroma,
                          a.grid.beats.astype(np.float32).reshape(-1, 1))


def prepare_inputs(embedder: Embedder, songs: Sequence[Multitrack],
                   excerpts: Sequence[Excerpt]) -> list[AlignmentInputs]:
    """Embeds and analyses every case (each window's query once per left-out stem)."""
    sr = embedder.sample_rate
    by_id = {s.song_id: s for s in songs}
    queries: dict[tuple[str, str, float], tuple[np.ndarray, StoredAnalysis]] = {}
    out = []
    t0 = time.perf_counter()
    for i, ex in enumerate(excerpts):
        song = by_id[ex.song_id]
        lo, hi = round(ex.window_start * sr), round((ex.window_start + ex.window_seconds) * sr)
        key = (ex.song_id, ex.stem, ex.window_start)
        if key not in queries:
            mix = song.mix(ex.stem)[lo:hi]
            queries[key] = (embedder.predict_one(mix, ex.instrument).frames, _float32_analysis(mix, sr))
        stem = song.stems[ex.stem][1][lo + round(ex.cut * sr) : hi - round(ex.end_cut * sr)]
        frames = embedder.embed_stem(stem).frames.astype(np.float16)  # the frame store's dtype
        out.append(AlignmentInputs(queries[key][0], queries[key][1], frames, analyse(stem, sr).stored()))
        if (i + 1) % 20 == 0:
            log.info("prepared %d / %d excerpts in %.0f s", i + 1, len(excerpts), time.perf_counter() - t0)
    return out


_ANALYSIS_FIELDS = ("features", "onsets", "chroma", "beats")


def save_cases(path: Path, excerpts: Sequence[Excerpt], inputs: Sequence[AlignmentInputs]) -> None:
    """Writes cases and their prepared inputs to one .npz (ragged arrays stored per case, excerpts as JSON)."""
    arrays: dict[str, np.ndarray] = {"excerpts": np.array(json.dumps([asdict(e) for e in excerpts]))}
    for i, x in enumerate(inputs):
        arrays[f"{i}/query_frames"], arrays[f"{i}/stem_frames"] = x.query_frames, x.stem_frames
        for side in ("query", "stem"):
            for f in _ANALYSIS_FIELDS:
                arrays[f"{i}/{side}.{f}"] = getattr(getattr(x, side), f)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, allow_pickle=False, **arrays)  # type: ignore[arg-type]  # (mypy takes **arrays for allow_pickle)


def load_cases(path: Path) -> tuple[list[Excerpt], list[AlignmentInputs]]:
    """The cases and inputs `save_cases` wrote."""
    with np.load(path) as data:
        excerpts = [Excerpt(**e) for e in json.loads(str(data["excerpts"]))]

        def analysis(i: int, side: str) -> StoredAnalysis:
            return StoredAnalysis(*(data[f"{i}/{side}.{f}"] for f in _ANALYSIS_FIELDS))

        inputs = [AlignmentInputs(data[f"{i}/query_frames"], analysis(i, "query"), data[f"{i}/stem_frames"],
                                  analysis(i, "stem")) for i in range(len(excerpts))]
    return excerpts, inputs


# A method maps one case's inputs, its instrument and the frame period (s) to offsets (s), best first.
Method = Callable[[AlignmentInputs, str, float], list[float]]


def model_offset(x: AlignmentInputs, instrument: str, frame_seconds: float) -> list[float]:
    """The model curve's own best offset (the service's fallback)."""
    aligned = align_frames(x.query_frames, x.stem_frames.astype(np.float32), frame_seconds, MIN_OVERLAP_SECONDS)
    return [aligned.offset_seconds]


@dataclass(frozen=True)
class Scores:
    """Hits of one method over some cases: counts within each of TOLERANCES_SECONDS, on the beat, and in
    the runner-ups (any returned offset within 160 ms)."""

    cases: int
    within: tuple[int, ...]
    on_beat: int
    any_offset: int

    def pct(self, count: int) -> float:
        return 100.0 * count / self.cases if self.cases else float("nan")


def score(excerpts: Sequence[Excerpt], offsets: Sequence[Sequence[float]]) -> Scores:
    """How many of `offsets` (per case, best first) land within each tolerance of the cut, and on its beat."""
    within = [0] * len(TOLERANCES_SECONDS)
    on_beat = any_offset = 0
    for ex, found in zip(excerpts, offsets, strict=True):
        error = found[0] - ex.cut if found else np.inf
        for j, tol in enumerate(TOLERANCES_SECONDS):
            within[j] += bool(abs(error) <= tol)
        if np.isfinite(error):
            on_beat += bool(abs(error - ex.beat_seconds * round(error / ex.beat_seconds)) <= BEAT_TOLERANCE_SECONDS)
        any_offset += any(abs(f - ex.cut) <= TOLERANCES_SECONDS[-1] for f in found)
    return Scores(len(excerpts), tuple(within), on_beat, any_offset)


def group_of(ex: Excerpt, own_rows: Collection[str] = ()) -> str:
    """The per-instrument table's row of a case: its class, or its own name for stems in `own_rows` (a file
    holding two classes, like `bass_drums`, which then counts only in the overall row)."""
    return ex.stem if ex.stem in own_rows else ex.instrument


def table(excerpts: Sequence[Excerpt], results: Mapping[str, Sequence[Sequence[float]]],
          own_rows: Collection[str] = ()) -> str:
    """A markdown table: per method, overall and per instrument group, % within 20 / 80 / 160 ms and on the
    beat, plus % whose offsets include one within 160 ms."""
    names = sorted({group_of(e, own_rows) for e in excerpts})
    lines = ["| method | group | cases | within 20 ms | 80 ms | 160 ms | on the beat | any offset within 160 ms |",
             "|---|---|---|---|---|---|---|---|"]
    for method, offsets in results.items():
        for group in ["all", *names]:
            pick = [i for i, e in enumerate(excerpts) if group == "all" or group_of(e, own_rows) == group]
            s = score([excerpts[i] for i in pick], [offsets[i] for i in pick])
            cells = " | ".join(f"{s.pct(w):.1f}" for w in s.within)
            lines.append(f"| {method} | {group} | {s.cases} | {cells} | {s.pct(s.on_beat):.1f} | "
                         f"{s.pct(s.any_offset):.1f} |")
    return "\n".join(lines)
