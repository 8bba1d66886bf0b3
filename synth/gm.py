"""General MIDI program numbers, families and the finer instrument labels written to metadata."""

DRUM_CHANNEL = 9  # MIDI channel 10, zero-based
BASS_PROGRAMS = range(32, 40)
VOICE_PROGRAMS = (52, 53, 54, 85)  # choir aahs, voice oohs, synth voice, lead 6 (voice)

# (first program of the family, label); a family spans 8 programs except where split finer below.
_FAMILIES: tuple[tuple[int, str], ...] = (
    (0, "piano"),
    (8, "mallets"),
    (16, "organ"),
    (24, "guitar"),
    (32, "bass"),
    (40, "strings"),
    (48, "strings"),
    (52, "voice"),
    (55, "orchestra hit"),
    (56, "brass"),
    (64, "reed"),
    (72, "pipe"),
    (80, "synth lead"),
    (85, "synth voice"),
    (86, "synth lead"),
    (88, "pad"),
    (96, "synth fx"),
    (104, "ethnic"),
    (112, "percussion"),
    (120, "sound fx"),
)


def instrument_label(program: int, is_drum: bool = False) -> str:
    """Finer instrument label (piano, guitar, organ, strings, brass, synth lead, pad...) of a program."""
    if is_drum:
        return "drum kit"
    if not 0 <= program <= 127:
        raise ValueError(f"GM program out of range 0-127: {program}")
    label = _FAMILIES[0][1]
    for first, name in _FAMILIES:
        if program >= first:
            label = name
    return label
