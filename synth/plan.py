"""The plan of a procedural song: style, key, tempo, meter, chords per bar, sections and time grid."""

from dataclasses import dataclass, replace

from synth.style import Style
from synth.theory import Chord, Key


@dataclass(frozen=True)
class Section:
    """A verse, chorus or bridge: its first bar, its length in bars and its loudness 0-1."""

    name: str
    start_bar: int
    bars: int
    energy: float


@dataclass(frozen=True)
class SongPlan:
    """What every part generator follows.

    Attributes:
        tempo: beats per minute.
        beats_per_bar: quarter-note beats per bar (3 or 4).
        chords: one chord per bar, bar 0 first.
        sections: sections covering all bars, in order.
    """

    style: Style
    key: Key
    tempo: float
    beats_per_bar: int
    chords: tuple[Chord, ...]
    sections: tuple[Section, ...]

    @property
    def bars(self) -> int:
        return len(self.chords)

    @property
    def beat_seconds(self) -> float:
        return 60.0 / self.tempo

    def time(self, bar: int, beat: float) -> float:
        """Seconds from the song start to a beat (0-based, fractional) of a bar, with the style's swing."""
        whole = int(beat)
        frac = beat - whole
        # Swing delays off-beat eighths by up to a triplet sixteenth and off-beat sixteenths by half as much.
        if abs(frac - 0.5) < 1e-6:
            frac += self.style.swing / 6
        elif abs(frac - 0.25) < 1e-6 or abs(frac - 0.75) < 1e-6:
            frac += self.style.swing / 12
        return (bar * self.beats_per_bar + whole + frac) * self.beat_seconds

    def transposed(self, semitones: int) -> "SongPlan":
        """The same plan in another key: the tonic and every chord moved by semitones."""
        key = Key((self.key.tonic + semitones) % 12, self.key.mode)
        return replace(self, key=key, chords=tuple(c.transposed(semitones) for c in self.chords))

    def at_tempo(self, ratio: float) -> "SongPlan":
        """The same plan played ratio times as fast (bars, chords and sections unchanged)."""
        if ratio <= 0:
            raise ValueError(f"tempo ratio must be positive, got {ratio}")
        return replace(self, tempo=self.tempo * ratio)

    def section_at(self, bar: int) -> Section:
        for section in self.sections:
            if section.start_bar <= bar < section.start_bar + section.bars:
                return section
        return self.sections[-1]

    def is_section_end(self, bar: int) -> bool:
        section = self.section_at(bar)
        return bar == section.start_bar + section.bars - 1

    def describe(self, duration: float) -> dict[str, object]:
        """The musical facts of the first duration seconds, as written to metadata.json (times in seconds)."""
        bar_seconds = self.beats_per_bar * self.beat_seconds
        return {
            "style": self.style.name,
            "key": self.key.name,
            "tonic": self.key.tonic,
            "mode": self.key.mode,
            "tempo": self.tempo,
            "time_signature": f"{self.beats_per_bar}/4",
            "bar_seconds": bar_seconds,
            "chords": [c.symbol for c in self.chords],
            "sections": [
                {
                    "name": s.name,
                    "start": s.start_bar * bar_seconds,
                    "end": (s.start_bar + s.bars) * bar_seconds,
                }
                for s in self.sections
                if s.start_bar * bar_seconds < duration
            ],
        }
