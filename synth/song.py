"""One synthetic song: choose its source, arrange it, render each stem alone, mix, and write its folder."""

import json
import logging
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from synth.arranger import arrange_midi
from synth.catalogue import MidiEntry, midi_catalogue
from synth.composer import Arrangement, compose
from synth.gm import instrument_label
from synth.groove import mma_arrangement, mma_available
from synth.midi import MidiReadError, read_midi
from synth.render import Room, render_midi
from synth.score import write_midi
from synth.soundfont import Soundfont, installed_soundfonts, pick_soundfont
from synth.stems import MIXTURE, STEMS

logger = logging.getLogger(__name__)

AUDIO_SUFFIX = ".flac"
METADATA = "metadata.json"
_FULL_SCALE = 2**23  # PCM_24
_SILENCE_RMS = 1e-4  # a stem quieter than -80 dBFS RMS counts as silent
_ATTEMPTS = 6


class SilentStemError(RuntimeError):
    """No attempt produced a song whose four stems all sound."""


@dataclass(frozen=True)
class SongSettings:
    """What every song of a corpus shares.

    Attributes:
        duration: seconds per song.
        sample_rate: Hz of all written audio.
        sources: relative weights of "procedural", "mma" and "midi" (real arrangements from Debian packages).
    """

    duration: float = 30.0
    sample_rate: int = 44100
    sources: dict[str, float] = field(default_factory=lambda: {"procedural": 0.6, "mma": 0.15, "midi": 0.25})


def song_rng(seed: int, index: int) -> np.random.Generator:
    """The generator behind every draw of one song: the same (seed, index) gives the same song anywhere."""
    return np.random.default_rng([seed, index])


def _draw_source(rng: np.random.Generator, settings: SongSettings, catalogue: tuple[MidiEntry, ...]) -> str:
    names = [n for n in ("procedural", "mma", "midi") if settings.sources.get(n, 0.0) > 0]
    weights = np.array([settings.sources[n] for n in names])
    source = str(names[int(rng.choice(len(names), p=weights / weights.sum()))])
    # Draw first and then check, so a missing package changes only the songs that would have used it.
    if (source == "mma" and not mma_available()) or (source == "midi" and not catalogue):
        return "procedural"
    return source


def _arrange(
    rng: np.random.Generator,
    source: str,
    settings: SongSettings,
    catalogue: tuple[MidiEntry, ...],
    workdir: Path,
) -> tuple[Arrangement, str]:
    """An arrangement and the name of its source (procedural, mma, or the MIDI package and file)."""
    if source == "mma":
        return mma_arrangement(rng, settings.duration, workdir), "mma"
    if source == "midi":
        entry = catalogue[int(rng.integers(len(catalogue)))]
        try:
            parts, tempi, meters = read_midi(entry.read())
        except MidiReadError as error:
            logger.warning("skipping unreadable MIDI %s/%s: %s", entry.corpus, entry.name, error)
            parts = []
        if parts:
            arrangement = arrange_midi(parts, tempi, meters, rng, settings.duration)
            if arrangement is not None:
                return arrangement, f"{entry.corpus}:{entry.name}"
        return compose(rng, settings.duration), "procedural"
    return compose(rng, settings.duration), "procedural"


def _room(rng: np.random.Generator) -> Room:
    return Room(
        reverb_room=round(float(rng.uniform(0.1, 0.9)), 3),
        reverb_damp=round(float(rng.uniform(0.0, 0.6)), 3),
        reverb_width=round(float(rng.uniform(0.5, 1.0)), 3),
        reverb_level=round(float(rng.uniform(0.3, 0.9)), 3),
        chorus_depth=round(float(rng.uniform(2.0, 12.0)), 3),
        chorus_level=round(float(rng.uniform(0.5, 2.0)), 3),
        chorus_speed=round(float(rng.uniform(0.2, 1.2)), 3),
    )


def _render_stems(
    arrangement: Arrangement,
    rng: np.random.Generator,
    settings: SongSettings,
    pool: tuple[Soundfont, ...],
    workdir: Path,
) -> tuple[dict[str, np.ndarray], dict[str, Any], Room]:
    """Each stem's audio [2, T] with its gain applied, and its metadata."""
    room = _room(rng)
    samples = round(settings.duration * settings.sample_rate)
    audio: dict[str, np.ndarray] = {}
    info: dict[str, Any] = {}
    for stem in STEMS:
        parts = arrangement.parts[stem]
        soundfont = pick_soundfont(rng, pool, drums=stem == "drums")
        gain_db = round(float(rng.uniform(-6.0, 0.0)), 3)
        reverb = int(rng.integers(0, 40 if stem in ("bass", "drums") else 90))
        chorus = int(rng.integers(0, 20 if stem in ("bass", "drums") else 70))
        midi = workdir / f"{stem}.mid"
        write_midi(parts, midi, reverb, chorus, drums_as_melodic=soundfont.drum_kit)
        rendered = render_midi(midi, soundfont, room, settings.sample_rate, workdir)[:, :samples]
        rendered = np.pad(rendered, ((0, 0), (0, samples - rendered.shape[1])))
        audio[stem] = rendered * 10 ** (gain_db / 20)
        labels = [instrument_label(p.program, p.is_drum) for p in parts]
        info[stem] = {
            # A MIDI-corpus arrangement can leave a stem without a part: it renders silent, and write_song
            # draws the song again (the last attempt composes, which fills every stem).
            "instrument": max(set(labels), key=lambda lab: (labels.count(lab), lab)) if labels else None,
            "instruments": labels,
            "programs": [None if p.is_drum else p.program for p in parts],
            "soundfont": soundfont.name,
            "soundfont_file": soundfont.path.name,
            "gain_db": gain_db,
            "reverb_send": reverb,
            "chorus_send": chorus,
        }
    return audio, info, room


def _quantise(audio: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], float]:
    """Stems as PCM_24 integers [2, T] scaled so that the mixture peaks below full scale, and that scale.

    The mixture is the integer sum of the quantised stems: decoded stems sum exactly to the decoded mixture.
    """
    mixture = sum(audio.values())
    assert isinstance(mixture, np.ndarray)
    peak = max(float(np.abs(mixture).max()), *(float(np.abs(a).max()) for a in audio.values()))
    # A fixed target (rather than a random one) keeps the loudness choice with the per-stem gains.
    scale = 0.89 / peak
    ints = {stem: np.round(a * scale * _FULL_SCALE).astype(np.int32) for stem, a in audio.items()}
    ints[MIXTURE] = np.sum([ints[s] for s in STEMS], axis=0).astype(np.int32)
    assert max(int(np.abs(a).max()) for a in ints.values()) < _FULL_SCALE
    return ints, scale


def _write_pcm24(path: Path, pcm: np.ndarray, sample_rate: int) -> None:
    # libsndfile writes the top 24 bits of int32 samples to PCM_24, so shift the 24-bit values up.
    sf.write(path, (pcm.T << 8), sample_rate, subtype="PCM_24", format="FLAC")


Arrange = Callable[[int, Path], tuple[Arrangement, str]]


def write_song(
    folder: Path, rng: np.random.Generator, settings: SongSettings, arrange: Arrange, head: dict[str, Any]
) -> dict[str, Any]:
    """Render the arrangement arrange(attempt, workdir) gives until its four stems sound; write the five FLAC
    files and metadata.json (head first, then the music, room and stems) into folder; return the metadata.

    Raises:
        SilentStemError: when no attempt gave four sounding stems.
    """
    pool = installed_soundfonts()
    with tempfile.TemporaryDirectory(prefix="synth-") as tmp:
        workdir = Path(tmp)
        for attempt in range(_ATTEMPTS):
            arrangement, source = arrange(attempt, workdir)
            audio, stems, room = _render_stems(arrangement, rng, settings, pool, workdir)
            silent = [s for s in STEMS if float(np.sqrt(np.mean(audio[s] ** 2))) < _SILENCE_RMS]
            if not silent:
                break
            logger.info("%s attempt %d: silent stems %s, drawing again", folder.name, attempt, silent)
        else:
            raise SilentStemError(f"{folder.name}: stems {silent} stayed silent after {_ATTEMPTS} attempts")
    pcm, scale = _quantise(audio)
    for name, data in pcm.items():
        _write_pcm24(folder / f"{name}{AUDIO_SUFFIX}", data, settings.sample_rate)
    metadata = {
        "title": song_title(arrangement.music, source),
        "artist": "stemjepa synth",
        **head,
        "source": source,
        "attempts": attempt + 1,
        "duration": settings.duration,
        "sample_rate": settings.sample_rate,
        **arrangement.music,
        "room": asdict(room),
        "mix_scale": scale,
        "stems": stems,
    }
    (folder / METADATA).write_text(json.dumps(metadata, indent=2, sort_keys=True))
    return metadata


def song_title(music: dict[str, Any], source: str) -> str:
    """A readable name from the plan: 'Funk in D dorian, 104 BPM' (or the MIDI file's name for the style)."""
    style = music.get("style") or source.split(":")[-1].split("/")[-1].rsplit(".", 1)[0].replace("_", " ")
    parts = [str(style).replace("-", " ").capitalize()]
    if music.get("key"):
        parts.append(f"in {music['key']}")
    title = " ".join(parts)
    tempo = music.get("tempo")
    return f"{title}, {float(tempo):.0f} BPM" if tempo else title


def make_song(index: int, seed: int, settings: SongSettings, folder: Path) -> dict[str, Any]:
    """Write one song (five FLAC files and metadata.json) into an existing empty folder; returns its metadata.

    Raises:
        SilentStemError: when no attempt gave four sounding stems.
    """
    rng = song_rng(seed, index)
    catalogue = midi_catalogue()
    source_kind = _draw_source(rng, settings, catalogue)

    def arrange(attempt: int, workdir: Path) -> tuple[Arrangement, str]:
        # The last attempt composes: procedural songs always have notes in every stem.
        kind = source_kind if attempt < _ATTEMPTS - 1 else "procedural"
        return _arrange(rng, kind, settings, catalogue, workdir)

    return write_song(folder, rng, settings, arrange, {"index": index, "seed": seed})


def mix_without(song_dir: Path, instrument: str, out: Path, sample_rate: int | None = None) -> float:
    """Writes the mono mix of a song folder's stems other than `instrument` to `out` (FLAC or WAV, 16-bit,
    peak at -1 dBFS), resampled to `sample_rate` when given; returns its length in seconds.

    Raises:
        FileNotFoundError: the song has no such stem.
    """
    if not (song_dir / f"{instrument}{AUDIO_SUFFIX}").is_file():
        raise FileNotFoundError(f"{song_dir} has no {instrument}{AUDIO_SUFFIX}")
    waves = []
    rate = 0
    for stem in STEMS:
        if stem == instrument:
            continue
        data, rate = sf.read(song_dir / f"{stem}{AUDIO_SUFFIX}", dtype="float32", always_2d=True)
        waves.append(data.mean(axis=1))
    mix = np.sum(waves, axis=0)
    if sample_rate and sample_rate != rate:
        import soxr

        mix, rate = soxr.resample(mix, rate, sample_rate), sample_rate
    peak = float(np.abs(mix).max())
    mix = mix * (0.89 / peak) if peak > 0 else mix
    sf.write(out, mix.astype(np.float32), rate, subtype="PCM_16")
    return len(mix) / rate
