"""Musical content of the embeddings (paper 4.4-4.5, adapted to labelled synthetic songs): linear probes
for key and tempo on frozen embeddings, and key/tempo compatibility of cross-song retrieval results.

Keys are (tonic pitch class 0-11, "major" | "minor"); church modes count by their third (dorian, phrygian,
locrian as minor; lydian, mixolydian as major). Two keys are compatible when they are the same,
relative (C major / A minor) or a fifth apart in the same mode (C / G / F major). Two tempi are
compatible when they differ by at most 4 %.
"""

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from evaluation.songs import EvalSong, query_pairs
from model.embed import Embedder

log = logging.getLogger(__name__)

PITCH_CLASSES = {
    "C": 0,
    "B#": 0,
    "C#": 1,
    "DB": 1,
    "D": 2,
    "D#": 3,
    "EB": 3,
    "E": 4,
    "FB": 4,
    "F": 5,
    "E#": 5,
    "F#": 6,
    "GB": 6,
    "G": 7,
    "G#": 8,
    "AB": 8,
    "A": 9,
    "A#": 10,
    "BB": 10,
    "B": 11,
    "CB": 11,
}
TEMPO_TOLERANCE = 0.04
MODE_QUALITY = {
    "major": "major",
    "ionian": "major",
    "lydian": "major",
    "mixolydian": "major",
    "minor": "minor",
    "aeolian": "minor",
    "dorian": "minor",
    "phrygian": "minor",
    "locrian": "minor",
}

Key = tuple[int, str]


def song_key(meta: Mapping[str, Any]) -> Key | None:
    """(tonic, major|minor) from synth metadata: 'tonic' (int or name) and 'mode', or a 'key' like 'F# minor'."""
    mode = MODE_QUALITY.get(str(meta.get("mode", "")).lower())
    tonic = meta.get("tonic")
    if isinstance(tonic, str):
        tonic = PITCH_CLASSES.get(tonic.strip().upper())
    if (tonic is None or mode is None) and isinstance(meta.get("key"), str):
        parts = meta["key"].replace(":", " ").split()
        tonic = PITCH_CLASSES.get(parts[0].upper()) if parts else None
        word = parts[1].lower() if len(parts) > 1 else "major"
        mode = MODE_QUALITY.get({"maj": "major", "min": "minor", "m": "minor"}.get(word, word))
    if tonic is None or mode is None:
        return None
    return int(tonic) % 12, mode


def keys_compatible(a: Key, b: Key) -> bool:
    """Same key, relative major/minor, or a fifth apart in the same mode."""
    (ta, ma), (tb, mb) = a, b
    if ma == mb:
        return (ta - tb) % 12 in (0, 5, 7)
    major, minor = (ta, tb) if ma == "major" else (tb, ta)
    return (major + 9) % 12 == minor


def tempi_compatible(a: float, b: float, tolerance: float = TEMPO_TOLERANCE) -> bool:
    return abs(a - b) <= tolerance * max(a, b)


def _folds(groups: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    """Song-grouped folds: every stem of a song is in the same fold, so probes never see a test song."""
    uniq = np.random.default_rng(seed).permutation(np.unique(groups))
    return [np.isin(groups, part) for part in np.array_split(uniq, min(k, len(uniq)))]


def probe_key(x: np.ndarray, keys: Sequence[Key], groups: np.ndarray, k: int = 5, seed: int = 0) -> dict[str, float]:
    """Logistic-regression probe (24 classes) with song-grouped k-fold cross-validation; accuracy in %."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y = np.array([t * 2 + (m == "minor") for t, m in keys])
    hits, compat, majority = [], [], []
    for test in _folds(groups, k, seed):
        train = ~test
        if len(np.unique(y[train])) < 2:
            continue
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=2000))
        clf.fit(x[train], y[train])
        pred = clf.predict(x[test])
        hits += list(pred == y[test])
        compat += [
            keys_compatible((int(p) // 2, "minor" if p % 2 else "major"), keys[int(i)])
            for p, i in zip(pred, np.flatnonzero(test), strict=True)
        ]
        values, counts = np.unique(y[train], return_counts=True)
        majority += list(y[test] == values[counts.argmax()])
    return {
        "accuracy": float(np.mean(hits) * 100),
        "compatible_key_pct": float(np.mean(compat) * 100),
        "majority_class_accuracy": float(np.mean(majority) * 100),
        "chance_accuracy": 100.0 / 24,
        "samples": float(len(hits)),
    }


def probe_tempo(x: np.ndarray, tempo: np.ndarray, groups: np.ndarray, k: int = 5, seed: int = 0) -> dict[str, float]:
    """Ridge probe on log tempo with song-grouped k-fold cross-validation, against predicting the train mean."""
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pred, base, true = [], [], []
    for test in _folds(groups, k, seed):
        train = ~test
        reg = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-2, 4, 13)))
        reg.fit(x[train], np.log(tempo[train]))
        pred += list(np.exp(reg.predict(x[test])))
        base += [float(np.exp(np.log(tempo[train]).mean()))] * int(test.sum())
        true += list(tempo[test])
    p, b, t = np.array(pred), np.array(base), np.array(true)
    return {
        "mae_bpm": float(np.abs(p - t).mean()),
        "within_4pct": float(np.mean(np.abs(p - t) <= 0.04 * t) * 100),
        "baseline_mae_bpm": float(np.abs(b - t).mean()),
        "baseline_within_4pct": float(np.mean(np.abs(b - t) <= 0.04 * t) * 100),
        "samples": float(len(t)),
    }


def compatibility(
    queries: np.ndarray,
    refs: np.ndarray,
    q_song: np.ndarray,
    r_song: np.ndarray,
    q_inst: np.ndarray,
    r_inst: np.ndarray,
    key_of: Mapping[str, Key],
    tempo_of: Mapping[str, float],
    top: int = 10,
) -> dict[str, float]:
    """Among each query's top-`top` references of its instrument from other songs: % in a compatible key,
    within 4 % tempo, and both; chance = the same shares over all those candidates."""
    scores = queries @ refs.T
    shares: dict[str, list[float]] = {
        k: [] for k in ("key", "tempo", "both", "key_chance", "tempo_chance", "both_chance")
    }
    for q in range(len(queries)):
        cand = np.flatnonzero((r_song != q_song[q]) & (r_inst == q_inst[q]))
        if len(cand) == 0:
            continue
        key_ok = np.array([keys_compatible(key_of[q_song[q]], key_of[r_song[c]]) for c in cand])
        tempo_ok = np.array([tempi_compatible(tempo_of[q_song[q]], tempo_of[r_song[c]]) for c in cand])
        best = np.argsort(-scores[q, cand], kind="stable")[:top]
        for name, ok in (("key", key_ok), ("tempo", tempo_ok), ("both", key_ok & tempo_ok)):
            shares[name].append(float(ok[best].mean()))
            shares[f"{name}_chance"].append(float(ok.mean()))
    return {f"{k}_pct": float(np.mean(v) * 100) if v else float("nan") for k, v in shares.items()} | {
        "queries": float(len(shares["key"])),
        "top": float(top),
    }


def evaluate_content(embedder: Embedder, songs: Sequence[EvalSong], folds: int = 5, seed: int = 0) -> dict[str, Any]:
    """Probes on target-encoder stem embeddings and predictions; cross-song compatibility of the top 10."""
    t0 = time.perf_counter()
    labelled = [s for s in songs if song_key(s.metadata) is not None and float(s.metadata.get("tempo", 0) or 0) > 0]
    if len(labelled) < len(songs):
        log.warning(
            "%d of %d songs have no usable key/tempo metadata and are left out", len(songs) - len(labelled), len(songs)
        )
    if len(labelled) < 4:
        raise ValueError(
            f"content evaluation needs at least 4 songs with key and tempo metadata, found {len(labelled)}"
        )
    key_of = {s.song_id: song_key(s.metadata) for s in labelled}
    tempo_of = {s.song_id: float(s.metadata["tempo"]) for s in labelled}
    pairs = query_pairs(labelled)
    stems = np.stack([e.vector for e in embedder.embed_stems([p.stem for p in pairs], "target")])
    preds = np.stack([e.vector for e in embedder.predict([p.mix for p in pairs], [p.instrument for p in pairs])])
    songs_arr = np.array([p.song_id for p in pairs])
    insts = np.array([p.instrument for p in pairs])
    keys = [key_of[s] for s in songs_arr]
    tempo = np.array([tempo_of[s] for s in songs_arr])
    report: dict[str, Any] = {"songs": len(labelled), "stems": len(pairs), "folds": folds}
    for name, x in (("stem embeddings", stems), ("predictions", preds)):
        report[f"key probe ({name})"] = probe_key(x, keys, songs_arr, folds, seed)  # type: ignore[arg-type]
        report[f"tempo probe ({name})"] = probe_tempo(x, tempo, songs_arr, folds, seed)
    report["compatibility"] = compatibility(preds, stems, songs_arr, songs_arr, insts, insts, key_of, tempo_of)  # type: ignore[arg-type]
    report["seconds"] = round(time.perf_counter() - t0, 1)
    return report
