"""Long-audio alignment check: excerpts of each stem, cut at seeded random starts, are aligned against the
mix of the song's other stems, as the service aligns a hit. Reports, per fusion weight triple, the share of
excerpts found within +-80 ms of their start, and the share whose error is within 80 ms of a whole number
of beats: the right beat phase, perhaps in another bar or section. In loop-based music many sections fit
equally well, so the second share is the one a producer feels: an offset off the beat is unusable.

The beat period comes from the song's metadata tempo (synthetic songs) or, without one, from the
autocorrelation of the mix's onset envelope (printed). Run it on training or extra data, never on
musdb18-7/valid:

    .venv/bin/python scripts/alignment_long.py ../shared/data/extra/trackswitch-demo --excerpt 30 --cuts 3
    .venv/bin/python scripts/alignment_long.py /work/corpus/synth-holdout --excerpt 15 --cuts 1
"""

import argparse
from pathlib import Path

import numpy as np

from analysis.signature import signature
from analysis.tempo import beat_seconds
from evaluation.alignment import FusionSpec, offsets_by_spec
from evaluation.songs import load_songs
from model.embed import Embedder

TOLERANCE = 0.08


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", type=Path, nargs="+")
    p.add_argument("-c", "--checkpoint", type=Path, default=None)
    p.add_argument("--excerpt", type=float, default=15.0, help="Excerpt length (s).")
    p.add_argument("--cuts", type=int, default=1, help="Excerpts per stem.")
    p.add_argument("--limit", type=int, default=None, help="Songs per data folder.")
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--verbose", action="store_true", help="Print every excerpt's error.")
    p.add_argument("--beat-seconds", type=float, default=None, help="Beat period of every song (default: its "
                   "metadata tempo, else estimated).")
    p.add_argument("--weights", nargs="+", default=["8:5.6:0:0", "4:5.6:4", "4:5.6:4:0", "4:5.6:0"],
                   help="fusion variants ONSET:HARMONY:ACCENT[:EXPONENT] (evaluation.alignment.FusionSpec)")
    args = p.parse_args()
    specs = [FusionSpec.parse(w) for w in args.weights]
    embedder = Embedder.from_checkpoint(args.checkpoint, device="cpu")
    sr = embedder.sample_rate
    rng = np.random.default_rng(args.seed)
    exact: dict[str, list[bool]] = {}
    phase: dict[str, list[bool]] = {}
    for root in args.data:
        for song in load_songs(root, sr, embedder.vocabulary, limit=args.limit):
            n = min(len(w) for w in song.stems.values())
            if len(song.stems) < 2 or n / sr < args.excerpt + 4:
                continue
            tempo = song.metadata.get("tempo")
            beat = args.beat_seconds or (60.0 / float(tempo) if tempo else
                                         beat_seconds(np.sum([w[:n] for w in song.stems.values()], axis=0), sr))
            for instrument, stem in song.stems.items():
                mix = np.sum([w[:n] for name, w in song.stems.items() if name != instrument], axis=0)
                if not np.any(stem):
                    continue
                pred = embedder.predict_one(mix, instrument)
                q_sig = signature(mix, sr)
                for start in np.round(rng.uniform(2.0, n / sr - args.excerpt - 2.0, args.cuts), 2):
                    excerpt = stem[round(start * sr) : round((start + args.excerpt) * sr)]
                    found = offsets_by_spec(embedder, pred, q_sig, excerpt, instrument, specs)
                    for spec in specs:
                        name = spec.name
                        error = found[name] - float(start)
                        off_beat = abs(error - beat * round(error / beat))
                        exact.setdefault(name, []).append(abs(error) <= TOLERANCE)
                        phase.setdefault(name, []).append(off_beat <= TOLERANCE)
                        if args.verbose:
                            print(f"    {instrument} {start:7.2f} s {name}: error {error:+.3f} s, "
                                  f"{error / beat:+.2f} beats")
            source = "given" if args.beat_seconds else "from tempo" if tempo else "estimated"
            print(f"  {song.song_id}: beat {beat:.3f} s ({source})", flush=True)
    cases = len(next(iter(exact.values()), []))
    print(f"{cases} excerpts of {args.excerpt:g} s; % within {TOLERANCE * 1000:.0f} ms of the start / of a whole beat:")
    for name in exact:
        print(f"  {name:>44}: {100 * np.mean(exact[name]):5.1f} / {100 * np.mean(phase[name]):5.1f}")


if __name__ == "__main__":
    main()
