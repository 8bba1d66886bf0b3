"""Experiment record (issue 17; MODEL_CARD.md, "Placement, second pass"): can a learned cross-correlation of the
signals the index stores tell the true offset from its neighbouring sixteenths and beats, where the service's
fixed fusion of band-onset, accent and chroma correlations cannot? Not shipped: it won on synthetic songs and
on the MUSDB train songs it did not see, and lost on the trackswitch song.

The learner: two small dilated 1-D convolution stacks (receptive field about +-0.6 s), one over the stem's
stored rows, one over the query's (4 onset bands at 10 ms, format 3 for the stem, and the 12 chroma values
repeated from 40 ms to 10 ms), each giving 8 channels; a lag's score is the correlation of the two outputs at
that lag. Trained with a softmax over the lags within +-1 s of the truth, on random sub-crops of the stem.

Cases (the long-excerpt protocol, with the stem's end cut too, so that its length does not give the answer
away): the query is a window of the mix of the other stems (30 s; 7 s songs: the whole song); the stem is the
same window cut by t at the start (0-4 s; 7 s songs 0-1 s) and e at the end (0-2 s; 0-1 s). The offset is
searched within +-1 s of the truth, where the service's choices go wrong (MODEL_CARD.md: most misses lie a
sixteenth to a beat away), by the fixed fusion (DEFAULT_FUSION without the model term), by the learner, and by
both (the sum of the two curves, each standardised over the searched lags).

Development data only, never musdb18-7/valid:
- trained on synthetic songs (`stemjepa synth DIR --songs 200 --seed 1000 --duration 45`) and MUSDB train
  songs 0-31, half of each batch from each;
- scored on the first half of the trackswitch song (0-83.3 s), synthetic songs of seed 1717 and MUSDB train
  songs 32-63.

    PYTHONPATH=. .venv/bin/python scripts/learned_lag_check.py --synth-train runs/data/synth-align-train \\
        --synth-dev runs/data/synth-1717 --steps 1200
"""

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from analysis.alignment import (
    DEFAULT_FUSION,
    UNPITCHED_INSTRUMENTS,
    accent_correlations,
    band_onset_correlation,
    chroma_correlation,
    fuse_curves,
)
from analysis.chroma import CHROMA_HOP_STEPS, ONSET_HOP_SECONDS
from analysis.signature import Signature, signature
from evaluation.excerpts import SILENCE_DBFS, Multitrack, load_multitracks
from evaluation.storeforms import roundtrip
from model.audio import rms_dbfs

SAMPLE_RATE = 16_000
SEARCH = 100  # lags searched each side of the truth, in 10 ms steps (+-1 s)
BATCH = 16
STORE = roundtrip("format3")


@dataclass(frozen=True)
class Case:
    """One query and stem: the query's signature, the stem's as stored, the instrument and the truth (s)."""

    query: Signature
    stem: Signature
    instrument: str
    truth: float

    @property
    def truth_steps(self) -> int:
        return round(self.truth / ONSET_HOP_SECONDS)


def rows(sig: Signature) -> np.ndarray:
    """[16, N] float32 at 10 ms: the 4 onset bands, then the chroma repeated from its 40 ms grid."""
    n = sig.bands.shape[1]
    chroma = np.repeat(sig.chroma, CHROMA_HOP_STEPS, axis=0)[:n]
    chroma = np.concatenate([chroma, np.zeros((n - len(chroma), 12), np.float32)])
    return np.concatenate([sig.bands, chroma.T]).astype(np.float32)


def make_cases(songs: list[Multitrack], per_stem: int, rng: np.random.Generator,
               span: tuple[float, float] | None = None) -> list[Case]:
    """`per_stem` cases per stem of each song (see the module's protocol); silent windows are skipped."""
    out = []
    for song in songs:
        seconds = song.seconds / SAMPLE_RATE
        lo, hi = span if span else (0.0, seconds)
        long = seconds >= 30.0
        window = 30.0 if long else seconds
        for name, (instrument, wave) in song.stems.items():
            for _ in range(per_stem):
                start = rng.uniform(lo, max(lo, hi - window))
                cut = round(float(rng.uniform(0, 4.0 if long else 1.0)), 2)
                end_cut = rng.uniform(0, 2.0 if long else 1.0)
                query = song.mix(leave_out=name)[int(start * SAMPLE_RATE): int((start + window) * SAMPLE_RATE)]
                stem = wave[int((start + cut) * SAMPLE_RATE): int((start + window - end_cut) * SAMPLE_RATE)]
                if rms_dbfs(query) <= SILENCE_DBFS or rms_dbfs(stem) <= SILENCE_DBFS:
                    continue
                q, s = signature(query, SAMPLE_RATE), STORE(signature(stem, SAMPLE_RATE))
                if np.any(q.envelope) and np.any(s.envelope):
                    out.append(Case(q, s, instrument, cut))
    return out


def fixed_curve(case: Case, lags: np.ndarray) -> np.ndarray:
    """The service's fusion of the stored signals' correlations (without the model term) at `lags`."""
    q, s = case.query, case.stem
    min_overlap = max(50, min(len(q.envelope), len(s.envelope)) // 2)
    w = DEFAULT_FUSION.for_instrument(case.instrument, UNPITCHED_INSTRUMENTS)
    terms = [(w.onset, band_onset_correlation(q, s, lags, min_overlap))]
    if w.harmony:
        terms.append((w.harmony, chroma_correlation(q, s, lags, min_overlap)))
    terms += [(w.accent, a) for a in accent_correlations(q, s, lags, min_overlap)]
    return fuse_curves(terms)


class Side(nn.Module):
    """Rows [B, 16, N] -> [B, 8, N], unit mean square."""

    def __init__(self, channels: int = 32, out: int = 8) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(16, channels, 9, padding=4), nn.ReLU(),
            nn.Conv1d(channels, channels, 9, padding=16, dilation=4), nn.ReLU(),
            nn.Conv1d(channels, channels, 9, padding=32, dilation=8), nn.ReLU(),
            nn.Conv1d(channels, out, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.net(x)
        return y / (y.pow(2).mean(dim=(1, 2), keepdim=True).sqrt() + 1e-6)


class LagScorer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem, self.query = Side(), Side()
        self.log_temperature = nn.Parameter(torch.tensor(3.0))

    def forward(self, query: np.ndarray, stem: np.ndarray, first_lag: int, lags: int) -> torch.Tensor:
        """Scores [lags] of lags first_lag, first_lag + 1, ... (10 ms; stem step j meets query step j + lag)."""
        fq = self.query(torch.from_numpy(query)[None])
        fs = self.stem(torch.from_numpy(stem)[None])
        n = fs.shape[2]
        left = max(0, -first_lag)
        fq = nn.functional.pad(fq, (left, max(0, first_lag + lags - 1 + n - fq.shape[2])))
        segment = fq[:, :, first_lag + left: first_lag + left + lags - 1 + n]
        return nn.functional.conv1d(segment, fs)[0, 0] / n * self.log_temperature.exp()


def train(model: LagScorer, synthetic: list[Case], real: list[Case], steps: int, rng: np.random.Generator) -> None:
    """Adam on the softmax over the +-1 s lags, half of each batch synthetic, half real; the stem sub-cropped to
    6-20 s at random so that its ends say nothing."""
    data = [[(rows(c.query), rows(c.stem), c.truth_steps) for c in cases] for cases in (synthetic, real)]
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    t0 = time.perf_counter()
    for step in range(steps):
        loss = torch.zeros(())
        for source in data:
            for i in rng.integers(0, len(source), BATCH // 2):
                q, s, truth = source[i]
                length = int(min(s.shape[1], rng.uniform(600, 2000)))
                a = int(rng.integers(0, s.shape[1] - length + 1))
                scores = model(q, np.ascontiguousarray(s[:, a: a + length]), truth + a - SEARCH, 2 * SEARCH + 1)
                loss = loss + nn.functional.cross_entropy(scores[None], torch.tensor([SEARCH]))
        loss = loss / BATCH
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 200 == 0 or step == steps - 1:
            print(f"step {step}: loss {loss.item():.3f} ({time.perf_counter() - t0:.0f} s)", flush=True)


def _standardised(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / (x.std() + 1e-9)


def score(model: LagScorer, cases: list[Case], label: str) -> None:
    """Prints the share of best offsets within 20 / 80 ms, overall and per instrument, for each method."""
    errors: dict[str, dict[str, list[float]]] = {"fixed": {}, "learned": {}, "both": {}}
    for case in cases:
        t = case.truth_steps
        fixed = fixed_curve(case, np.arange(t - SEARCH, t + SEARCH + 1))
        with torch.no_grad():
            learned = model(rows(case.query), rows(case.stem), t - SEARCH, 2 * SEARCH + 1).numpy().astype(np.float64)
        for method, curve in (("fixed", fixed), ("learned", learned),
                              ("both", _standardised(fixed) + _standardised(learned))):
            error = abs(int(np.argmax(curve)) - SEARCH) * ONSET_HOP_SECONDS
            for key in ("all", case.instrument):
                errors[method].setdefault(key, []).append(error)
    print(f"\n{label}: {len(cases)} cases; best offset within 20 / 80 ms of the truth, searching +-1 s")
    for method, by in errors.items():
        cells = [f"{k} {100 * np.mean(np.array(v) <= 0.0201):.1f} / {100 * np.mean(np.array(v) <= 0.0801):.1f}"
                 for k, v in sorted(by.items(), key=lambda kv: (kv[0] != "all", kv[0]))]
        print(f"  {method:8s} " + "   ".join(cells))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--synth-train", type=Path, required=True)
    p.add_argument("--synth-dev", type=Path, required=True)
    p.add_argument("--musdb", type=Path, default=Path("../shared/data/musdb18-7/train"))
    p.add_argument("--trackswitch", type=Path, default=Path("../shared/data/extra/trackswitch-demo"))
    p.add_argument("--steps", type=int, default=1200)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    if "valid" in args.musdb.parts:
        raise SystemExit("musdb18-7/valid is the honest check, not a development set")
    rng = np.random.default_rng(args.seed)
    torch.manual_seed(args.seed)
    musdb = load_multitracks(args.musdb, SAMPLE_RATE)
    synthetic = make_cases(load_multitracks(args.synth_train, SAMPLE_RATE), 2, rng)
    real = make_cases(musdb[:32], 6, rng)
    dev = {"trackswitch, first half": make_cases(load_multitracks(args.trackswitch, SAMPLE_RATE), 12, rng,
                                                 (0.0, 83.3)),
           f"synthetic ({args.synth_dev.name})": make_cases(load_multitracks(args.synth_dev, SAMPLE_RATE), 2, rng),
           "MUSDB train songs 32-63": make_cases(musdb[32:], 2, rng)}
    print(f"training cases: {len(synthetic)} synthetic, {len(real)} MUSDB train 0-31", flush=True)
    model = LagScorer()
    train(model, synthetic, real, args.steps, rng)
    model.eval()
    for label, cases in dev.items():
        score(model, cases, label)


if __name__ == "__main__":
    torch.set_num_threads(2)
    main()
