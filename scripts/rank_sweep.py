"""Chooses the fused ranking's weights (analysis.compatibility.DEFAULT_WEIGHTS) on selection data only.

Two sets, neither of which is ever used for reporting:
- same-song retrieval on MUSDB train songs (the paper's protocol: find the song's own missing stem), R@1 in
  protocols A and B;
- cross-song compatibility on the sibling selection set (`stemjepa synth OUT --set selection`): mAP of the
  exact level (stems of other songs with the same plan) in protocols A and B.
The objective is the mean of those four numbers, so that a fingerprint of the song (which wins the first
set alone) does not decide by itself. Model scores and analyses are computed once and cached under --cache.

With --conform it then sweeps what conforming costs (analysis.compatibility.Conform's transpose_cost and
stretch_cost) with the chosen weights, conforming up to 5 semitones and 8 % (the variants' range), by the
mAP of the "conformed" level (stems of the group found with the right suggested shift), and prints the
exact and conformed levels for a few conforming limits (the choice of the service's default limits).

    python scripts/rank_sweep.py --musdb ../shared/data/musdb18-7/train --siblings runs/sets/compat-select
"""

import argparse
import itertools
import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from analysis.compatibility import DEFAULT_WEIGHTS, CompatWeights, Conform, discount_hubs, musical_shortlist
from evaluation.compatibility import compat_set, evaluate_compat_scores, model_compat_systems, relevance
from evaluation.musical import (
    MusicalInputs,
    candidate_mask,
    fused_matrix,
    hub_matrix,
    musical_similarities,
    pair_inputs,
)
from evaluation.ranking import evaluate_scores
from evaluation.retrieval import model_systems, pair_labels
from evaluation.songs import load_songs, query_pairs
from model.embed import Embedder

GRID = {"key": (0.0, 0.5, 1.0, 2.0, 4.0), "chroma": (0.0, 0.5, 1.0), "tempo": (1.0, 2.0, 4.0, 8.0, 16.0),
        "rhythm": (0.0, 0.5, 1.0)}
TOLERANCES = (0.01, 0.02, 0.04)


def _inputs(path: Path, cache: Path, build: object) -> MusicalInputs:
    if cache.is_file():
        with np.load(cache) as z:
            return MusicalInputs(z["q"], z["r"], z["qi"], z["ri"], z["model"])
    inputs = build()  # type: ignore[operator]
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, q=inputs.query_rows, r=inputs.ref_rows, qi=inputs.query_instruments,
             ri=inputs.ref_instruments, model=inputs.model)
    return inputs


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--musdb", type=Path, required=True, help="MUSDB train folder (never valid).")
    p.add_argument("--siblings", type=Path, required=True, help="The sibling selection set.")
    p.add_argument("-c", "--checkpoint", type=Path, default=None)
    p.add_argument("--cache", type=Path, default=Path("runs/rank-sweep"))
    p.add_argument("--out", type=Path, default=Path("runs/rank-sweep/sweep.json"))
    p.add_argument("--conform", action="store_true", help="Sweep only the costs and limits of conforming.")
    p.add_argument("--hub", action="store_true", help="Sweep only the hub discount of the model's cosine within "
                   "an instrument (needs the checkpoint's query centres: `stemjepa query-centres`).")
    p.add_argument("--pool", action="store_true", help="Measure only the candidate pool size: the fusion over "
                   "the model's top N per query, as the service re-ranks its rank_pool.")
    args = p.parse_args()
    embedder = Embedder.from_checkpoint(args.checkpoint, device="cpu")
    sr = embedder.sample_rate

    musdb_songs = load_songs(args.musdb, sr, embedder.vocabulary)
    musdb_pairs = query_pairs(musdb_songs)
    musdb = _inputs(args.musdb, args.cache / "musdb.npz", lambda: pair_inputs(
        musdb_pairs, model_systems(embedder, musdb_pairs, "model", context=False)[0].scores, sr))
    musdb_labels = pair_labels(musdb_pairs)
    sib_songs = load_songs(args.siblings, sr, embedder.vocabulary)
    cset = compat_set(sib_songs)
    sib = _inputs(args.siblings, args.cache / "siblings.npz", lambda: pair_inputs(
        cset.pairs, model_compat_systems(embedder, cset, "model")[0].scores, sr))
    allowed = ~relevance(cset.labels).excluded
    insts = sorted(set(musdb.query_instruments.tolist()))

    def score(w: CompatWeights, tolerance: float) -> dict[str, float]:
        conform = Conform(tempo_tolerance=tolerance)
        out: dict[str, float] = {}
        m_sims = musical_similarities(musdb, conform)
        a, b = (fused_matrix(musdb, m_sims, w, candidate_mask(musdb, proto)) for proto in ("A", "B"))
        r = evaluate_scores(a, musdb_labels, insts, n_boot=0, scores_b=b)
        out["musdb A R@1"], out["musdb B R@1"] = r["A"]["metrics"]["R@1"], r["B"]["metrics"]["R@1"]
        s_sims = musical_similarities(sib, conform)
        a, b = (fused_matrix(sib, s_sims, w, candidate_mask(sib, proto, allowed)) for proto in ("A", "B"))
        c = evaluate_compat_scores(a, cset.labels, cset.instruments, n_boot=0, scores_b=b)
        out["siblings A mAP"], out["siblings B mAP"] = (c[proto]["exact"]["metrics"]["mAP"] for proto in ("A", "B"))
        out["siblings B R@1"] = c["B"]["exact"]["metrics"]["R@1"]
        out["objective"] = float(np.mean([out["musdb A R@1"], out["musdb B R@1"], out["siblings A mAP"],
                                          out["siblings B mAP"]]))
        return out

    if args.conform:
        _conform_sweep(sib, cset, allowed)
        return
    if args.pool:
        _pool_sweep(sib, cset, allowed)
        return
    if args.hub:
        def hubs(name: str, pairs: Any) -> np.ndarray:
            cache = args.cache / f"hub-{name}.npy"
            if not cache.is_file():
                refs = np.stack([e.vector for e in embedder.embed_stems([p.stem for p in pairs])])
                matrix = hub_matrix(embedder.query_centres, np.asarray([p.instrument for p in pairs]), refs)
                assert matrix is not None, "the checkpoint has no query centres: run `stemjepa query-centres`"
                np.save(cache, matrix)
            return np.load(cache)

        _hub_sweep(replace(musdb, hub=hubs("musdb", musdb_pairs)), musdb_labels, insts,
                   replace(sib, hub=hubs("siblings", cset.pairs)), cset, allowed)
        return
    rows: list[dict[str, Any]] = [{"weights": {"model": 1.0}, "tolerance": 0.04, **score(CompatWeights(), 0.04)}]
    for tolerance in TOLERANCES:
        for values in itertools.product(*GRID.values()):
            w = CompatWeights(1.0, *values)
            rows.append({"weights": w.as_dict(), "tolerance": tolerance, **score(w, tolerance)})
    rows.sort(key=lambda r: -r["objective"])
    best = rows[0]
    shipped = DEFAULT_WEIGHTS.as_dict()
    current = next((r for r in rows if r["weights"] == shipped and r["tolerance"] == Conform().tempo_tolerance), None)
    alone = replace(CompatWeights(**best["weights"]), model=0.0)
    rows_alone = {"weights": alone.as_dict(), "tolerance": best["tolerance"], **score(alone, best["tolerance"])}
    keys = ("objective", "musdb A R@1", "musdb B R@1", "siblings A mAP", "siblings B mAP", "siblings B R@1")
    print(f"{len(rows)} settings; objective = mean of musdb A/B R@1 and siblings A/B exact mAP (all %)")
    print("  " + " | ".join(keys) + " | weights, tempo tolerance")
    for label, row in [("model alone", rows[-1] if rows[-1]["weights"] == {"model": 1.0} else
                        next(r for r in rows if r["weights"] == {"model": 1.0})),
                       *((f"#{i + 1}", r) for i, r in enumerate(rows[:8])),
                       ("best, model weight 0", rows_alone), ("shipped", current)]:
        if row is not None:
            print(f"{label:>22}: " + " | ".join(f"{row[k]:5.1f}" for k in keys) + f" | {row['weights']} "
                  f"{row['tolerance']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": rows, "features_alone": rows_alone}, indent=1))


def _compat(sib: MusicalInputs, cset: object, allowed: np.ndarray, conform: Conform) -> dict[str, float]:
    sims = musical_similarities(sib, conform)
    a, b = (fused_matrix(sib, sims, DEFAULT_WEIGHTS, candidate_mask(sib, proto, allowed)) for proto in ("A", "B"))
    c = evaluate_compat_scores(a, cset.labels, cset.instruments, n_boot=0, scores_b=b,  # type: ignore[attr-defined]
                               transpose=sims.transpose, stretch=sims.stretch)
    return {f"{level} {proto} mAP": c[proto][level]["metrics"]["mAP"] for level in ("exact", "conformed")
            for proto in ("A", "B")}


def _hub_sweep(musdb: MusicalInputs, musdb_labels: Any, insts: list[str], sib: MusicalInputs, cset: Any,
               allowed: np.ndarray) -> None:
    """Protocol B (within an instrument, where the discount applies): MUSDB train R@1 and the selection set's
    exact-level mAP of the fused ranking and of the model alone, and how many distinct stems are some query's
    top hit (mean over instruments), for each discount."""
    print("hub discount -> protocol B: MUSDB train R@1, selection exact mAP, distinct top-1 stems (fused | model)")
    for discount in (0.0, 0.25, 0.5, 0.75, 1.0, 1.5):
        line = [f"  {discount:4.2f}:"]
        for name, inputs, al in (("musdb", musdb, None), ("siblings", sib, allowed)):
            within = replace(inputs, model=discount_hubs(inputs.model, inputs.hub, discount))
            mask = candidate_mask(inputs, "B", al)
            fused = fused_matrix(within, musical_similarities(inputs, Conform()), DEFAULT_WEIGHTS, mask)
            model = np.where(mask, within.model, -1e30)
            for label, matrix in (("fused", fused), ("model", model)):
                if name == "musdb":
                    value = evaluate_scores(matrix, musdb_labels, insts, n_boot=0)["B"]["metrics"]["R@1"]
                else:
                    value = evaluate_compat_scores(matrix, cset.labels, cset.instruments,
                                                   n_boot=0)["B"]["exact"]["metrics"]["mAP"]
                top = matrix.argmax(axis=1)
                distinct = np.mean([len(np.unique(top[inputs.query_instruments == i]))
                                    for i in np.unique(inputs.query_instruments)])
                line.append(f"{name} {label} {value:5.1f} ({distinct:4.1f} distinct)")
        print(" | ".join(line))


def _pool_sweep(sib: MusicalInputs, cset: object, allowed: np.ndarray) -> None:
    """Exact-level mAP and R@1 (protocol B) when the fusion re-ranks only N candidates of the queried
    instrument (the rest keep their model order below them): the model's N nearest, or those plus the N whose
    musical features alone fit best (analysis.compatibility.musical_shortlist), as the service does."""
    sims = musical_similarities(sib, Conform())
    mask_b = candidate_mask(sib, "B", allowed)
    model = np.where(mask_b, sib.model, -np.inf)
    gallery = int(mask_b.sum(axis=1).min())
    print(f"pool size N (of {gallery} stems of the instrument) -> exact level, protocol B (%)")
    for n in (5, 10, 20, 40, 80, gallery):
        nearest = np.zeros_like(mask_b)
        np.put_along_axis(nearest, np.argsort(-model, axis=1)[:, :n], True, axis=1)
        union = nearest.copy()
        for q in range(len(union)):
            cands = np.flatnonzero(mask_b[q])
            w = DEFAULT_WEIGHTS.for_instrument(str(sib.query_instruments[q]))
            union[q, cands[musical_shortlist(sib.query_rows[q], sib.ref_rows[cands], w, n)]] = True
        line = [f"  N={n:4d}:"]
        for label, pool in (("model's nearest", nearest & mask_b), ("+ musical shortlist", union & mask_b)):
            fused = fused_matrix(sib, sims, DEFAULT_WEIGHTS, pool)
            scores = np.where(pool, fused, np.where(mask_b, sib.model - 1e6, -1e30))
            c = evaluate_compat_scores(scores, cset.labels, cset.instruments, n_boot=0)  # type: ignore[attr-defined]
            m = c["B"]["exact"]["metrics"]
            line.append(f"{label}: mAP {m['mAP']:5.1f} R@1 {m['R@1']:5.1f}")
        print(" | ".join(line))


def _conform_sweep(sib: MusicalInputs, cset: object, allowed: np.ndarray) -> None:
    print("conforming up to 5 st and 8 %: cost per semitone, cost per unit log stretch -> mAP (%)")
    for t_cost, s_cost in itertools.product((0.0, 0.02, 0.05, 0.1, 0.2, 0.4), (0.0, 0.5, 2.0, 5.0, 10.0, 20.0, 40.0)):
        got = _compat(sib, cset, allowed, Conform(5, 0.08, transpose_cost=t_cost, stretch_cost=s_cost))
        print(f"  {t_cost:4.2f} {s_cost:5.1f}: " + " | ".join(f"{k} {v:5.1f}" for k, v in got.items()))
    print("limits (default costs) -> mAP (%)")
    for limits in ((0, 0.0), (2, 0.0), (0, 0.04), (2, 0.04), (5, 0.08)):
        got = _compat(sib, cset, allowed, Conform(*limits))
        print(f"  +-{limits[0]} st, +-{limits[1]:.0%}: " + " | ".join(f"{k} {v:5.1f}" for k, v in got.items()))


if __name__ == "__main__":
    main()
