"""Multitrack songs: discovery (song folders with one file per stem, MUSDB `.stem.mp4` files, manifests) and
decoding a song into one waveform per instrument.

Used by training (multitrack datasets, validation), the indexer (catalogue sources) and the evaluation, so a
stem is named, classed and decoded the same way everywhere. Stems whose instrument cannot be determined are
reported, never guessed.
"""

import csv
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from model.audio import AUDIO_SUFFIXES, load_mono, read_streams, resample, to_mono
from model.errors import AudioDecodeError, ReservedDataError
from model.instruments import InstrumentVocabulary

log = logging.getLogger(__name__)

# MUSDB18's stream order inside a .stem.mp4: 0 is the mixture.
STEM_MP4_STREAMS: tuple[str, ...] = ("mixture", "drums", "bass", "other", "vocals")
MANIFEST_NAMES = ("manifest.csv", "manifest.jsonl")
# metadata.json's "set" of the fixed evaluation set (synth/sets.py): songs that nothing may train or tune on
EVALUATION_SET_NAME = "evaluation"


@dataclass(frozen=True)
class StemRef:
    """One stem: a file (and stream, for multi-stream containers) plus its instrument class."""

    path: Path
    instrument: str
    name: str  # the stem's own name: file stem, or stream label
    stream: int | None = None

    @property
    def key(self) -> str:
        """Unique, stable identifier of the stem's audio source."""
        return f"{self.path}#{self.stream}" if self.stream is not None else str(self.path)


@dataclass(frozen=True)
class SongRef:
    song_id: str
    stems: tuple[StemRef, ...]
    title: str | None = None
    artist: str | None = None
    mixture: StemRef | None = None
    tags: tuple[str, ...] = ()
    licence: str | None = None
    data_set: str | None = None  # the fixed set the song belongs to (metadata.json "set"), if any

    def instruments(self) -> list[str]:
        return sorted({s.instrument for s in self.stems})


@dataclass
class Discovery:
    songs: list[SongRef] = field(default_factory=list)
    unresolved: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)


def _title_artist(name: str) -> tuple[str | None, str]:
    """'Artist - Title' -> ('Artist', 'Title')."""
    if " - " in name:
        artist, title = name.split(" - ", 1)
        return artist.strip(), title.strip()
    return None, name


def _stem_mp4_song(path: Path, vocab: InstrumentVocabulary, song_id: str) -> SongRef:
    stems, mixture = [], None
    for idx, label in enumerate(STEM_MP4_STREAMS):
        if label == "mixture":
            mixture = StemRef(path, "mixture", label, idx)
            continue
        inst = vocab.resolve(label)
        if inst is not None:
            stems.append(StemRef(path, inst, label, idx))
    artist, title = _title_artist(path.name.removesuffix(".stem.mp4"))
    return SongRef(song_id, tuple(stems), title, artist, mixture)


def _folder_song(folder: Path, files: list[Path], vocab: InstrumentVocabulary, song_id: str, out: Discovery) -> None:
    stems, mixture = [], None
    for f in sorted(files):
        if vocab.is_mixture(f.name):
            mixture = StemRef(f, "mixture", f.stem)
            continue
        inst = vocab.resolve(f.name)
        if inst is None:
            out.unresolved.append((str(f), f"no instrument class for the name {f.stem!r}"))
            continue
        stems.append(StemRef(f, inst, f.stem))
    if stems:
        artist, title = _title_artist(folder.name)
        data_set = None
        meta = folder / "metadata.json"
        if meta.is_file():
            try:
                data = json.loads(meta.read_text())
                title = data.get("title", title)
                artist = data.get("artist", artist)
                data_set = data.get("set")
            except (json.JSONDecodeError, OSError) as exc:
                log.warning("ignoring unreadable %s: %s", meta, exc)
        out.songs.append(SongRef(song_id, tuple(stems), title, artist, mixture, data_set=data_set))


def _manifest_rows(path: Path) -> Iterator[dict[str, str]]:
    if path.suffix == ".csv":
        with path.open(newline="") as f:
            yield from csv.DictReader(f)
    else:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{n}: invalid JSON ({exc.msg})") from exc


def discover_manifest(path: Path, vocab: InstrumentVocabulary) -> Discovery:
    """Manifest columns: path (relative to the manifest), instrument (optional: else from the file name),
    song, title, artist, tags (comma or list), licence."""
    out = Discovery()
    songs: dict[str, dict[str, object]] = {}
    for row in _manifest_rows(path):
        rel = str(row.get("path") or "").strip()
        if not rel:
            out.unresolved.append((str(path), "manifest row without a path"))
            continue
        file = (path.parent / rel).resolve()
        raw_inst = str(row.get("instrument") or "").strip()
        inst = raw_inst if raw_inst in vocab else vocab.resolve(raw_inst or file.name)
        if inst is None:
            out.unresolved.append((str(file), f"no instrument class for {raw_inst or file.stem!r}"))
            continue
        song_id = str(row.get("song") or file.parent.name)
        tags = row.get("tags") or ()
        tag_tuple = tuple(t.strip() for t in tags.split(",") if t.strip()) if isinstance(tags, str) else tuple(tags)
        entry = songs.setdefault(song_id, {"stems": [], "title": row.get("title"), "artist": row.get("artist"),
                                           "tags": tag_tuple, "licence": row.get("licence") or row.get("license")})
        stems = entry["stems"]
        assert isinstance(stems, list)
        stems.append(StemRef(file, inst, file.stem))
    for song_id, e in songs.items():
        out.songs.append(SongRef(song_id, tuple(e["stems"]), e["title"] or None, e["artist"] or None,  # type: ignore[arg-type]
                                 None, e["tags"], e["licence"] or None))  # type: ignore[arg-type]
    return out


def discover(root: str | Path, vocab: InstrumentVocabulary | None = None) -> Discovery:
    """Finds songs under `root`: a manifest file, a `.stem.mp4` file, or a folder tree holding
    `.stem.mp4` files and/or song folders of per-stem audio files. Song ids are paths relative to root."""
    vocab = vocab or InstrumentVocabulary()
    root = Path(root)
    if root.is_file():
        if root.suffix in (".csv", ".jsonl"):
            return discover_manifest(root, vocab)
        if root.name.endswith(".stem.mp4"):
            return Discovery([_stem_mp4_song(root, vocab, root.name.removesuffix(".stem.mp4"))])
        raise ValueError(f"{root} is neither a folder, a manifest (.csv/.jsonl) nor a .stem.mp4 file")
    if not root.is_dir():
        raise FileNotFoundError(f"catalogue not found: {root}")
    for name in MANIFEST_NAMES:
        if (root / name).is_file():
            return discover_manifest(root / name, vocab)
    out = Discovery()
    folders: dict[Path, list[Path]] = {}
    for f in sorted(root.rglob("*")):
        if not f.is_file() or f.name.startswith("."):
            continue
        if f.name.endswith(".stem.mp4"):
            rel = f.relative_to(root).as_posix().removesuffix(".stem.mp4")
            out.songs.append(_stem_mp4_song(f, vocab, rel))
        elif f.suffix.lower() in AUDIO_SUFFIXES:
            folders.setdefault(f.parent, []).append(f)
    for folder, files in sorted(folders.items()):
        song_id = folder.relative_to(root).as_posix() if folder != root else root.name
        _folder_song(folder, files, vocab, song_id, out)
    out.songs.sort(key=lambda s: s.song_id)
    return out


def refuse_evaluation_songs(songs: Iterable[SongRef], purpose: str) -> None:
    """Raise ReservedDataError when any song belongs to the fixed evaluation set.

    Args:
        purpose: what the songs were given for ("training", "checkpoint validation"), for the message.
    """
    reserved = [s.song_id for s in songs if s.data_set == EVALUATION_SET_NAME]
    if reserved:
        raise ReservedDataError(
            f"{len(reserved)} songs of the fixed {EVALUATION_SET_NAME} set (e.g. {reserved[0]}) were given for "
            f"{purpose}; nothing may train or tune on that set"
        )


def _padded_sum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    n = max(len(a), len(b))
    return np.pad(a, (0, n - len(a))) + np.pad(b, (0, n - len(b)))


def decode_song(song: SongRef, sample_rate: int) -> dict[str, np.ndarray]:
    """Every stem of `song` as mono float32 [T] at `sample_rate` Hz, summed per instrument class (guitar +
    piano -> other). A multi-stream container is decoded once for all its streams. Files of one class that
    differ in length are summed zero-padded to the longest: a part that ends early is silent after its end.

    Raises:
        AudioDecodeError: a stem cannot be decoded, or names a stream its container does not have.
    """
    containers: dict[Path, list[np.ndarray]] = {}
    waves: dict[str, np.ndarray] = {}
    for stem in song.stems:
        if stem.stream is None:
            wave = load_mono(stem.path, sample_rate)
        else:
            if stem.path not in containers:
                containers[stem.path] = [resample(to_mono(a.samples), a.sample_rate, sample_rate)
                                         for a in read_streams(stem.path)]
            streams = containers[stem.path]
            if stem.stream >= len(streams):
                raise AudioDecodeError(stem.path, f"no audio stream {stem.stream} (file has {len(streams)})")
            wave = streams[stem.stream]
        previous = waves.get(stem.instrument)
        waves[stem.instrument] = wave if previous is None else _padded_sum(previous, wave)
    return waves
