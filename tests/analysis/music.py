"""Generated music with known tempo, meter and key, for the analysis tests."""

import numpy as np

SR = 16_000
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)


def tone(freq: float, seconds: float, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return sum(np.sin(2 * np.pi * freq * h * t) / h for h in (1, 2)) * np.exp(-0.5 * t)


def song(bpm: float, tonic: int, seconds: float = 12.0, beats_per_bar: int = 4, sr: int = SR) -> np.ndarray:
    """A kick on every beat (louder on the bar's first), off-beat hats, and per bar a bass note and the
    diatonic triad of I-IV-V-I; `tonic` is the major key's pitch class (0 = C)."""
    beat = 60.0 / bpm
    n = int(seconds * sr)
    out = np.zeros(n)
    kick = np.sin(2 * np.pi * 45 * np.arange(int(0.12 * sr)) / sr) * np.exp(-np.arange(int(0.12 * sr)) / (0.03 * sr))
    noise = np.random.default_rng(0).standard_normal(int(0.03 * sr))
    hat = noise * np.exp(-np.arange(len(noise)) / (0.005 * sr))
    kick[: len(noise)] += 0.5 * hat  # the beater's click: a kick's attack is broadband
    degrees = (0, 3, 4, 0)
    for i in range(int(seconds / beat)):
        start = int(i * beat * sr)
        downbeat = i % beats_per_bar == 0
        seg = kick * (1.0 if downbeat else 0.35)
        out[start : start + len(seg)] += seg[: n - start]
        off = start + int(0.5 * beat * sr)
        if off < n:
            out[off : off + len(hat)] += 0.05 * hat[: n - off]
        if downbeat:
            bar = i // beats_per_bar
            root = -24 + tonic + MAJOR_SCALE[degrees[bar % 4]]  # semitones from C4: the bass two octaves down
            note = tone(261.63 * 2 ** (root / 12 + 1), beat * beats_per_bar)
            degree = degrees[bar % 4]
            triad = [MAJOR_SCALE[(degree + step) % 7] for step in (0, 2, 4)]
            chord = sum(tone(261.63 * 2 ** ((tonic + iv) / 12), beat * beats_per_bar) for iv in triad)
            seg = 0.3 * note + 0.1 * chord
            out[start : start + len(seg)] += seg[: n - start]
    return (0.5 * out / np.abs(out).max()).astype(np.float32)
