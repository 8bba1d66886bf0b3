"""The instrument vocabulary: names the predictor is conditioned on, and the table that maps file names to them.

The vocabulary is data (stored in configs and checkpoints), not code: the paper's four classes are only
the default. One vocabulary drives the predictor's embedding table, the indexer's column and the API schema.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from model.errors import UnknownInstrumentError

DEFAULT_INSTRUMENTS: tuple[str, ...] = ("bass", "drums", "vocals", "other")

# File-name words (lower case) that name a stem class. Applied to the default four; a custom vocabulary
# brings its own table. "mix"-like names are stems of no class: they are mixtures, never targets.
DEFAULT_SYNONYMS: Mapping[str, str] = {
    # bass
    "bass": "bass", "basses": "bass", "synth_bass": "bass", "synthbass": "bass", "bass_guitar": "bass",
    "bassguitar": "bass", "electric_bass": "bass", "upright_bass": "bass", "double_bass": "bass",
    "contrabass": "bass", "sub": "bass", "sub_bass": "bass", "808": "bass", "bassline": "bass",
    # drums
    "drums": "drums", "drum": "drums", "drumkit": "drums", "drum_kit": "drums", "kit": "drums",
    "percussion": "drums", "perc": "drums", "beat": "drums", "beats": "drums", "kick": "drums",
    "snare": "drums", "hihat": "drums", "hi_hat": "drums", "hats": "drums", "toms": "drums",
    "overheads": "drums", "cymbals": "drums",
    # vocals
    "vocals": "vocals", "vocal": "vocals", "vox": "vocals", "voice": "vocals", "voices": "vocals",
    "lead_vocal": "vocals", "lead_vocals": "vocals", "leadvocal": "vocals", "backing_vocals": "vocals",
    "backing_vocal": "vocals", "bvs": "vocals", "choir": "vocals", "singer": "vocals", "rap": "vocals",
    "lead_vox": "vocals", "harmony": "vocals", "harmonies": "vocals",
    # other
    "other": "other", "others": "other", "guitar": "other", "guitars": "other", "gtr": "other",
    "piano": "other", "keys": "other", "keyboard": "other", "keyboards": "other", "synth": "other",
    "synths": "other", "pad": "other", "pads": "other", "strings": "other", "violin": "other",
    "violins": "other", "viola": "other", "cello": "other", "brass": "other", "horns": "other",
    "trumpet": "other", "sax": "other", "saxophone": "other", "organ": "other", "lead": "other",
    "synth_lead": "other", "arp": "other", "fx": "other", "flute": "other", "woodwinds": "other",
    "accordion": "other", "harp": "other", "mallets": "other", "rhodes": "other", "electric_piano": "other",
}

MIXTURE_NAMES: frozenset[str] = frozenset({"mix", "mixture", "master", "full", "full_mix", "song", "stereo_mix"})


def _normalise(name: str) -> str:
    """'Lead Vocal-02' -> 'lead_vocal'; digits and separators at the ends are dropped."""
    word = re.sub(r"[\s\-\.]+", "_", name.strip().lower())
    return word.strip("_0123456789") or word


@dataclass(frozen=True)
class InstrumentVocabulary:
    """An ordered list of instrument classes plus the synonym table that maps stem names onto them.

    Attributes:
        names: class names in embedding-table order (index i = predictor embedding row i).
        synonyms: lower-case file-name word -> class name.
    """

    names: tuple[str, ...] = DEFAULT_INSTRUMENTS
    synonyms: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SYNONYMS))

    def __post_init__(self) -> None:
        if len(set(self.names)) != len(self.names) or not self.names:
            raise ValueError(f"instrument names must be unique and non-empty, got {self.names}")
        unknown = {v for v in self.synonyms.values() if v not in self.names}
        if unknown:
            raise ValueError(f"synonym table maps onto classes outside the vocabulary: {sorted(unknown)}")

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.names

    def index(self, name: str) -> int:
        """Row of `name` in the predictor's embedding table; raises UnknownInstrumentError."""
        try:
            return self.names.index(name)
        except ValueError:
            raise UnknownInstrumentError(name, self.names) from None

    def resolve(self, stem_name: str) -> str | None:
        """Class of a stem from its file or track name ('lead_vocal.wav' -> 'vocals'), or None.

        Tries the whole normalised name, then each word of it, so 'Bass DI' and 'guitar_left' resolve.
        Mixture names and names of no known class return None: callers report them, never guess.
        """
        word = _normalise(stem_name.rsplit("/", 1)[-1].split(".", 1)[0])
        if word in MIXTURE_NAMES:
            return None
        if word in self.names:
            return word
        if word in self.synonyms:
            return self.synonyms[word]
        parts = [p for p in word.split("_") if p]
        for n in (2, 1):  # two-word synonyms first: 'synth_bass' before 'synth'
            for i in range(len(parts) - n + 1):
                key = "_".join(parts[i : i + n])
                if key in self.names:
                    return key
                if key in self.synonyms:
                    return self.synonyms[key]
        return None

    def is_mixture(self, stem_name: str) -> bool:
        return _normalise(stem_name.rsplit("/", 1)[-1].split(".", 1)[0]) in MIXTURE_NAMES

    def to_dict(self) -> dict[str, object]:
        return {"names": list(self.names), "synonyms": dict(self.synonyms)}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> "InstrumentVocabulary":
        names = tuple(str(n) for n in data.get("names", DEFAULT_INSTRUMENTS))  # type: ignore[attr-defined]
        raw = data.get("synonyms")
        if raw is None:
            synonyms = {k: v for k, v in DEFAULT_SYNONYMS.items() if v in names}
        else:
            synonyms = {str(k): str(v) for k, v in dict(raw).items()}  # type: ignore[call-overload]
        return cls(names=names, synonyms=synonyms)

    @classmethod
    def from_names(cls, names: Iterable[str]) -> "InstrumentVocabulary":
        names = tuple(names)
        return cls(names=names, synonyms={k: v for k, v in DEFAULT_SYNONYMS.items() if v in names})
