"""Musical styles: the tempo, meter, mode, groove and instrument choices a procedural song is drawn from."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Style:
    """Everything a style fixes about a song; tuples are the choices drawn from per song.

    Attributes:
        tempo: (low, high) in beats per minute.
        meters: beats per bar to choose from (3 or 4, quarter-note beats).
        swing: fraction of an eighth by which off-beat eighths are delayed (0 = straight).
        drums: name of the drum pattern in synth.drums.PATTERNS.
        bass: bass line kinds from synth.bass.
        comping: comping kinds for the `other` stem from synth.comping.
        comp_programs: GM programs for the main comping part.
        pad_programs: GM programs for an optional sustained pad or arpeggio part.
        bass_programs: GM programs for the bass.
        sevenths: whether chords are seventh chords.
        blues: whether sections follow the twelve-bar blues.
    """

    name: str
    tempo: tuple[int, int]
    meters: tuple[int, ...]
    modes: tuple[str, ...]
    swing: float
    drums: str
    bass: tuple[str, ...]
    comping: tuple[str, ...]
    comp_programs: tuple[int, ...]
    pad_programs: tuple[int, ...]
    bass_programs: tuple[int, ...]
    sevenths: bool = False
    blues: bool = False


STYLES: dict[str, Style] = {
    s.name: s
    for s in (
        Style(
            "rock",
            (96, 150),
            (4,),
            ("major", "minor", "mixolydian"),
            0.0,
            "rock",
            ("root_fifth", "eighths"),
            ("strum", "block"),
            (29, 30, 25, 27, 0),
            (48, 61, 89),
            (33, 34),
        ),
        Style(
            "pop",
            (90, 128),
            (4,),
            ("major", "minor"),
            0.0,
            "pop",
            ("root_fifth", "syncopated", "eighths"),
            ("block", "arpeggio", "strum"),
            (0, 1, 4, 24, 25),
            (48, 49, 89, 88, 50),
            (33, 34, 38),
        ),
        Style(
            "funk",
            (92, 118),
            (4,),
            ("dorian", "mixolydian", "minor"),
            0.05,
            "funk",
            ("syncopated",),
            ("stab", "strum"),
            (27, 28, 4, 16),
            (61, 62, 56),
            (33, 36, 37),
            sevenths=True,
        ),
        Style(
            "disco",
            (112, 128),
            (4,),
            ("minor", "major", "dorian"),
            0.0,
            "disco",
            ("octave",),
            ("stab", "strum"),
            (27, 4, 48, 0),
            (48, 49, 61, 88),
            (33, 38, 34),
            sevenths=True,
        ),
        Style(
            "jazz",
            (100, 190),
            (4, 3),
            ("major", "minor"),
            0.6,
            "jazz",
            ("walking",),
            ("jazz", "block"),
            (0, 26, 4, 11),
            (48, 65, 66, 56),
            (32, 35),
            sevenths=True,
        ),
        Style(
            "blues",
            (70, 130),
            (4,),
            ("major",),
            0.65,
            "shuffle",
            ("walking", "root_fifth"),
            ("block", "strum"),
            (0, 26, 16, 17, 27),
            (65, 66, 61),
            (32, 33, 34),
            blues=True,
        ),
        Style(
            "latin",
            (90, 130),
            (4,),
            ("minor", "major"),
            0.0,
            "latin",
            ("tumbao", "root_fifth"),
            ("montuno", "strum"),
            (0, 24, 2, 11),
            (56, 61, 48),
            (32, 33),
        ),
        Style(
            "reggae",
            (68, 92),
            (4,),
            ("minor", "major"),
            0.15,
            "reggae",
            ("reggae",),
            ("skank",),
            (16, 17, 27, 0),
            (16, 48, 89),
            (33, 38),
        ),
        Style(
            "hip-hop",
            (80, 100),
            (4,),
            ("minor", "dorian"),
            0.25,
            "hiphop",
            ("sustained", "syncopated"),
            ("block", "arpeggio"),
            (4, 5, 0, 11, 88),
            (89, 91, 48, 95),
            (38, 39, 33),
            sevenths=True,
        ),
        Style(
            "electronic",
            (118, 140),
            (4,),
            ("minor", "major"),
            0.0,
            "four_on_floor",
            ("octave", "sustained"),
            ("arpeggio", "stab", "pad"),
            (81, 80, 87, 90),
            (88, 89, 90, 91, 94),
            (38, 39),
        ),
        Style(
            "ballad",
            (60, 84),
            (4, 3),
            ("major", "minor"),
            0.0,
            "ballad",
            ("sustained", "root_fifth"),
            ("arpeggio", "block", "pad"),
            (0, 1, 4, 24, 46),
            (48, 49, 52, 89),
            (33, 35, 32),
        ),
        Style(
            "metal",
            (100, 180),
            (4,),
            ("minor",),
            0.0,
            "metal",
            ("eighths",),
            ("power",),
            (30, 29),
            (48, 50),
            (34, 33),
        ),
        Style(
            "country",
            (96, 140),
            (4,),
            ("major",),
            0.0,
            "country",
            ("root_fifth",),
            ("strum", "arpeggio"),
            (25, 24, 0, 105),
            (40, 48, 21),
            (32, 33),
        ),
        Style(
            "waltz",
            (84, 160),
            (3,),
            ("major", "minor"),
            0.0,
            "waltz",
            ("root_fifth",),
            ("block", "arpeggio"),
            (0, 21, 24, 46),
            (48, 49, 52),
            (32, 33, 58),
        ),
    )
}
