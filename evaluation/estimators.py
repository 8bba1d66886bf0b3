"""Accuracy of the music analysis (analysis.music) against the known tempo, key and meter of synthetic songs,
for mixes and each stem type: `stemjepa eval analysis SYNTH_DIR`.

Tempo: within 4 % of the truth ("strict"), and within 4 % of the truth times 2, 1/2, 3 or 1/3 ("octave",
which counts the strict hits too); the difference is the octave errors. Key: exact, exact or relative, and
the MIREX weighted score (1 exact, 0.5 fifth, 0.3 relative, 0.2 parallel). Songs whose key the synth engine
only estimated (MIDI-corpus songs, `key_estimated`) are left out of the key numbers; every count is reported.
"""

import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from analysis.key import MODE_QUALITY, Key, mirex_score
from analysis.music import analyse
from evaluation.songs import EvalSong

log = logging.getLogger(__name__)

TOLERANCE = 0.04
OCTAVE_FACTORS = (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0)
MIX = "mix"


def truth_key(meta: dict[str, Any]) -> Key | None:
    """(tonic, major|minor) of a synthetic song, None when unknown or only estimated by the synth engine."""
    mode = MODE_QUALITY.get(str(meta.get("mode", "")).lower())
    if meta.get("tonic") is None or mode is None or meta.get("key_estimated"):
        return None
    return int(meta["tonic"]) % 12, mode


def tempo_hits(estimate: float, truth: float) -> tuple[bool, bool]:
    """(strict, octave-tolerant) agreement of an estimated tempo with the truth."""
    if estimate <= 0 or truth <= 0:
        return False, False
    strict = abs(estimate - truth) <= TOLERANCE * truth
    return strict, any(abs(estimate - truth * f) <= TOLERANCE * truth * f for f in OCTAVE_FACTORS)


def _summary(rows: list[dict[str, Any]]) -> dict[str, float]:
    tempo = [r for r in rows if r["tempo_truth"] > 0]
    keyed = [r for r in rows if r["key_truth"] is not None]
    meter = [r for r in rows if r["meter_truth"]]

    def pct(values: Sequence[bool | float]) -> float:
        return float(np.mean(values) * 100) if len(values) else float("nan")

    strict = [r["tempo_strict"] for r in tempo]
    octave = [r["tempo_octave"] for r in tempo]
    return {
        "signals": float(len(rows)),
        "tempo_signals": float(len(tempo)),
        "tempo_within_4pct": pct(strict),
        "tempo_within_4pct_octave_allowed": pct(octave),
        "tempo_octave_errors": pct([o and not s for s, o in zip(strict, octave, strict=True)]),
        "key_signals": float(len(keyed)),
        "key_exact": pct([r["mirex"] == 1.0 for r in keyed]),
        "key_exact_or_relative": pct([r["mirex"] in (1.0, 0.3) for r in keyed]),
        "key_mirex": pct([r["mirex"] for r in keyed]),
        "meter_signals": float(len(meter)),
        "meter_correct": pct([r["meter"] == r["meter_truth"] for r in meter]),
    }


def evaluate_estimators(songs: Sequence[EvalSong], sample_rate: int = 16_000) -> dict[str, Any]:
    """Analyses each song's mix (the sum of its stems) and every stem; returns per-signal-type accuracy."""
    t0 = time.perf_counter()
    rows: dict[str, list[dict[str, Any]]] = {}
    seconds = 0.0
    for song in songs:
        meta = song.metadata
        truth_tempo = float(meta.get("tempo") or 0.0)
        key = truth_key(meta)
        signature = str(meta.get("time_signature") or "")
        meter = int(signature.split("/")[0]) if signature[:1].isdigit() else 0
        n = min(len(w) for w in song.stems.values())
        signals = {MIX: np.sum([w[:n] for w in song.stems.values()], axis=0), **song.stems}
        for name, wave in signals.items():
            a = analyse(wave, sample_rate)
            seconds += len(wave) / sample_rate
            strict, octave = tempo_hits(a.bpm, truth_tempo)
            rows.setdefault(name, []).append({
                "song": song.song_id, "tempo_truth": truth_tempo, "tempo": a.bpm, "tempo_strict": strict,
                "tempo_octave": octave, "key_truth": key, "key": a.key.key,
                "mirex": mirex_score(a.key.key, key) if key else None,
                "meter_truth": meter, "meter": a.grid.beats_per_bar,
            })
    elapsed = time.perf_counter() - t0
    order = [MIX, *sorted(k for k in rows if k != MIX)]
    return {
        "songs": len(songs),
        "signals": {name: _summary(rows[name]) for name in order if name in rows},
        "audio_seconds": round(seconds, 1),
        "seconds": round(elapsed, 1),
        "cpu_seconds_per_audio_minute": round(60.0 * elapsed / max(seconds, 1e-9), 2),
        "tolerance": TOLERANCE,
    }
