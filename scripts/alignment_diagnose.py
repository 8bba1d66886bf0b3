"""Where placement goes wrong on the long-excerpt protocol (evaluation.diagnosis). On prepared caches
(scripts/alignment_long.py --cache), per instrument: placement's hits within 160 ms, its misses within a beat,
a bar or farther, the hits it would make if told the truth to within --radius seconds, and the hits of the
offset that the stem's and the query's lengths alone give (the protocol's truth whenever the stem keeps the
window's end: a leak check, not a method); then, per evidence, the share of cases where it ranks the truth
above every other candidate within --radius seconds. On song folders (--songs): per stem, the lag where each
correlation of the stem against the mix of the others peaks over the whole song (truth 0).

Run it on training or extra data, never on musdb18-7/valid:

    .venv/bin/python scripts/alignment_diagnose.py --cache runs/align/ts-dev1.npz runs/align/ts-dev11.npz
    .venv/bin/python scripts/alignment_diagnose.py --songs ../shared/data/extra/trackswitch-demo
"""

import argparse
from collections import defaultdict
from pathlib import Path

from analysis.placement import PlacementWeights
from evaluation.diagnosis import MISS_KINDS, CaseDiagnosis, diagnose, whole_song_preferences
from evaluation.excerpts import load_cases, load_multitracks
from model.embed import Embedder


def _pct(hits: int, cases: int) -> str:
    return f"{100.0 * hits / cases:.1f}" if cases else "-"


def cases_table(found: list[CaseDiagnosis], radius: float) -> str:
    groups: dict[str, list[CaseDiagnosis]] = defaultdict(list)
    for d in found:
        groups["all"].append(d)
        groups[d.instrument].append(d)
    head = (f"| group | cases | {' | '.join(MISS_KINDS)} | within 160 ms, told the truth to {radius:g} s | "
            "length difference within 20 / 160 ms |")
    lines = [head, "|" + "---|" * (4 + len(MISS_KINDS))]
    for name in sorted(groups, key=lambda g: (g != "all", g)):
        ds = groups[name]
        kinds = " | ".join(_pct(sum(d.kind == k for d in ds), len(ds)) for k in MISS_KINDS)
        window = sum(d.window_error is not None and abs(d.window_error) <= 0.16 for d in ds)
        leak = f"{_pct(sum(abs(d.length_error) <= 0.02 for d in ds), len(ds))} / " \
               f"{_pct(sum(abs(d.length_error) <= 0.16 for d in ds), len(ds))}"
        lines.append(f"| {name} | {len(ds)} | {kinds} | {_pct(window, len(ds))} | {leak} |")
    return "\n".join(lines)


def tops_table(found: list[CaseDiagnosis], radius: float) -> str:
    names = ["placement", *PlacementWeights.names()]
    groups: dict[str, list[CaseDiagnosis]] = defaultdict(list)
    for d in found:
        if d.tops is not None:
            groups["all"].append(d)
            groups[d.instrument].append(d)
    lines = [f"Share of cases (with a candidate within 160 ms) whose truth ranks above every other candidate "
             f"within {radius:g} s:", "| group | cases | " + " | ".join(names) + " |", "|" + "---|" * (2 + len(names))]
    for name in sorted(groups, key=lambda g: (g != "all", g)):
        ds = groups[name]
        cells = []
        for n in names:
            has = [d.tops[n] for d in ds if d.tops is not None and n in d.tops]
            cells.append(_pct(sum(has), len(has)))
        lines.append(f"| {name} | {len(ds)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cache", type=Path, nargs="*", default=[], help="Prepared cases, scored together.")
    p.add_argument("--songs", type=Path, nargs="*", default=[], help="Song folders for the whole-song check.")
    p.add_argument("--radius", type=float, default=1.0, help="Neighbourhood of the truth (s).")
    p.add_argument("-c", "--checkpoint", type=Path, default=None)
    args = p.parse_args()
    embedder = Embedder.from_checkpoint(args.checkpoint, device="cpu")
    if args.cache:
        found = []
        for path in args.cache:
            for ex, x in zip(*load_cases(path), strict=True):
                d = diagnose(ex, x, embedder.frame_seconds, args.radius)
                if d is not None:
                    found.append(d)
        print(f"### {' '.join(c.stem for c in args.cache)}: {len(found)} cases")
        print(cases_table(found, args.radius))
        print(tops_table(found, args.radius))
    for root in args.songs:
        for song in load_multitracks(root, embedder.sample_rate, embedder.vocabulary):
            prefs = whole_song_preferences(song, embedder.sample_rate, args.radius)
            terms = list(next(iter(prefs.values())))
            print(f"### {song.song_id} ({song.seconds / embedder.sample_rate:.1f} s): lag (ms) where each "
                  "correlation of the stem against the mix of the others peaks over the whole song (truth 0)")
            print("| stem | " + " | ".join(terms) + " |\n|" + "---|" * (1 + len(terms)))
            for stem, pref in prefs.items():
                print(f"| {stem} | " + " | ".join(f"{1000 * pref[t]:+.0f}" for t in terms) + " |")
    if not args.cache and not args.songs:
        p.error("give --cache or --songs")


if __name__ == "__main__":
    main()
