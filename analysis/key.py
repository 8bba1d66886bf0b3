"""Musical keys: the 24-d Krumhansl-Schmuckler key profile of a pitch-class summary, the best key with its
confidence, key names, Camelot codes, transposition of profiles and the MIREX key score.

A key is (tonic pitch class 0-11, "major" | "minor"). The profile vector holds the correlation of a 12-bin
pitch-class summary with the 12 rotations of the major template (indices 0-11, tonic C first) and of the
minor template (12-23). Comparing two such vectors is softer than comparing key labels: a bass line that
spells only roots and fifths correlates with several keys at once, and the vector keeps all of them.
"""

from dataclasses import dataclass

import numpy as np

# Krumhansl & Kessler (1982) probe-tone ratings, tonic first.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])

PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
PITCH_CLASSES = {
    "C": 0, "B#": 0, "C#": 1, "DB": 1, "D": 2, "D#": 3, "EB": 3, "E": 4, "FB": 4, "F": 5, "E#": 5, "F#": 6,
    "GB": 6, "G": 7, "G#": 8, "AB": 8, "A": 9, "A#": 10, "BB": 10, "B": 11, "CB": 11,
}
# Church modes count by their third.
MODE_QUALITY = {
    "major": "major", "ionian": "major", "lydian": "major", "mixolydian": "major", "maj": "major",
    "minor": "minor", "aeolian": "minor", "dorian": "minor", "phrygian": "minor", "locrian": "minor",
    "min": "minor", "m": "minor",
}
MODES = ("major", "minor")

Key = tuple[int, str]

# Below this margin (best key's correlation minus the runner-up's) the runner-up is named beside the best key.
# Chosen on the synthetic selection set (scripts/key_close_calls.py: 480 mixes without one stem; the largest
# margin below which the runner-up is the song's key at least half as often as the best is; 0.0601 there,
# rounded): 28.1 % of those mixes fall below 0.06, their best key right in 46.7 %, the runner-up in 23.7 %.
CLOSE_CALL_MARGIN = 0.06


def _templates() -> np.ndarray:
    """[24, 12] z-scored templates: row k is major on tonic k (k < 12) or minor on tonic k - 12."""
    rows = [np.roll(p, t) for p in (MAJOR_PROFILE, MINOR_PROFILE) for t in range(12)]
    t = np.asarray(rows, dtype=np.float64)
    t -= t.mean(axis=1, keepdims=True)
    return t / np.linalg.norm(t, axis=1, keepdims=True)


_TEMPLATES = _templates()


def key_profile(chroma: np.ndarray) -> np.ndarray:
    """Pearson correlation of pitch-class summaries [..., 12] (C first) with the 24 key templates: [..., 24]
    float32 (zeros for a flat summary)."""
    x = np.asarray(chroma, dtype=np.float64)
    x = x - x.mean(axis=-1, keepdims=True)
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    unit = np.where(norm > 1e-12, x / np.where(norm > 1e-12, norm, 1.0), 0.0)
    return (unit @ _TEMPLATES.T).astype(np.float32)


def key_of_index(index: int) -> Key:
    return int(index) % 12, MODES[int(index) // 12]


def index_of_key(key: Key) -> int:
    return key[0] % 12 + 12 * MODES.index(key[1])


@dataclass(frozen=True)
class KeyEstimate:
    """The best key of a profile and its confidence: the best correlation minus the runner-up's (0-2); the
    runner-up key itself, shown beside the best where the call is close (`close_call`)."""

    tonic: int
    mode: str
    confidence: float
    runner_up: Key | None = None

    @property
    def key(self) -> Key:
        return self.tonic, self.mode

    @property
    def name(self) -> str:
        return key_name(self.key)

    @property
    def close_call(self) -> bool:
        """Whether the runner-up key is worth showing beside the best (margin below CLOSE_CALL_MARGIN)."""
        return self.runner_up is not None and self.confidence < CLOSE_CALL_MARGIN


def best_key(profile: np.ndarray) -> KeyEstimate:
    """The key whose template correlates best with a profile [24]; confidence 0 for a flat profile."""
    if profile.shape != (24,):
        raise ValueError(f"expected a key profile of shape (24,), got {profile.shape}")
    order = np.argsort(-profile, kind="stable")
    tonic, mode = key_of_index(int(order[0]))
    return KeyEstimate(tonic, mode, float(profile[order[0]] - profile[order[1]]), key_of_index(int(order[1])))


def estimate_key(chroma: np.ndarray) -> Key:
    """Most likely (tonic pitch class, "major"|"minor") for a 12-bin pitch-class summary [12] (C first)."""
    if chroma.shape != (12,):
        raise ValueError(f"expected a profile of shape (12,), got {chroma.shape}")
    return best_key(key_profile(chroma)).key


def rotate_profile(profile: np.ndarray, semitones: int) -> np.ndarray:
    """The key profile [..., 24] of the same music transposed up by `semitones`: each mode's 12 rotate."""
    p = np.asarray(profile)
    return np.concatenate([np.roll(p[..., :12], semitones, axis=-1), np.roll(p[..., 12:], semitones, axis=-1)],
                          axis=-1)


def key_name(key: Key) -> str:
    """'A minor', 'Eb major'."""
    return f"{PITCH_NAMES[key[0] % 12]} {key[1]}"


class KeyParseError(ValueError):
    """Text that names no key."""


def parse_key(text: str) -> Key:
    """A key from text: 'A minor', 'Am', 'F# major', 'Bb', 'C:min', 'Eb dorian' (church modes by their third),
    or a Camelot code such as '8A'.

    Raises:
        KeyParseError: the text names no key.
    """
    raw = text.strip()
    camelot = _parse_camelot(raw)
    if camelot is not None:
        return camelot
    parts = raw.replace(":", " ").split()
    if not parts:
        raise KeyParseError(f"no key in {text!r}")
    head = parts[0]
    word = parts[1].lower() if len(parts) > 1 else "major"
    if len(parts) == 1 and len(head) >= 2 and head[-1] == "m" and head[:-1].upper() in PITCH_CLASSES:
        head, word = head[:-1], "minor"
    tonic = PITCH_CLASSES.get(head.upper())
    mode = MODE_QUALITY.get(word)
    if tonic is None or mode is None or len(parts) > 2:
        raise KeyParseError(f"{text!r} is not a key (e.g. 'A minor', 'F# major', 'Bbm' or Camelot '8A')")
    return tonic, mode


# Camelot wheel: number 1-12 and letter B (major) / A (minor); neighbours on the wheel mix well.
_CAMELOT_MAJOR = {11: 1, 6: 2, 1: 3, 8: 4, 3: 5, 10: 6, 5: 7, 0: 8, 7: 9, 2: 10, 9: 11, 4: 12}


def camelot(key: Key) -> str:
    """Camelot code of a key: C major = 8B, A minor = 8A (a relative pair shares the number)."""
    tonic, mode = key
    major_tonic = tonic % 12 if mode == "major" else (tonic + 3) % 12
    return f"{_CAMELOT_MAJOR[major_tonic]}{'B' if mode == 'major' else 'A'}"


def _parse_camelot(text: str) -> Key | None:
    t = text.upper()
    if len(t) < 2 or t[-1] not in "AB" or not t[:-1].isdigit():
        return None
    number = int(t[:-1])
    if not 1 <= number <= 12:
        raise KeyParseError(f"Camelot numbers run 1-12, got {text!r}")
    major_tonic = next(k for k, v in _CAMELOT_MAJOR.items() if v == number)
    return (major_tonic, "major") if t[-1] == "B" else ((major_tonic - 3) % 12, "minor")


def camelot_compatible(a: Key, b: Key) -> bool:
    """Neighbours on the Camelot wheel: the same key, its relative, or a fifth up or down in the same mode."""
    ca, cb = camelot(a), camelot(b)
    na, nb = int(ca[:-1]), int(cb[:-1])
    if ca[-1] == cb[-1]:
        return (na - nb) % 12 in (0, 1, 11)
    return na == nb


def mirex_score(estimate: Key, truth: Key) -> float:
    """MIREX key score: 1 same key, 0.5 a fifth away in the same mode, 0.3 relative, 0.2 parallel, else 0."""
    (te, me), (tt, mt) = estimate, truth
    if me == mt:
        d = (te - tt) % 12
        return 1.0 if d == 0 else 0.5 if d in (5, 7) else 0.0
    major, minor = (te, tt) if me == "major" else (tt, te)
    if (major + 9) % 12 == minor:
        return 0.3
    return 0.2 if te == tt else 0.0
