"""PNG figures of the evaluation reports (matplotlib, headless)."""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt
import numpy as np

from evaluation.ranking import CATEGORIES

COLOURS = ("#2a9d8f", "#e9c46a", "#f4a261", "#e76f51")


def failure_png(table: Mapping[str, Mapping[str, float]], title: str, path: Path) -> None:
    """Figure 2 (left): stacked bars of top-hit categories per queried instrument."""
    rows = list(table)
    fig, ax = plt.subplots(figsize=(7, 0.6 * len(rows) + 1.6))
    left = np.zeros(len(rows))
    for cat, colour in zip(CATEGORIES, COLOURS, strict=True):
        vals = np.array([table[r][cat] for r in rows])
        ax.barh(rows, vals, left=left, color=colour, label=cat)
        left += vals
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of queries (top hit, protocol A)")
    ax.invert_yaxis()
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.08), ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def confusion_png(conf: Mapping[str, Any], title: str, path: Path) -> None:
    """Figure 2 (right): queried instrument x retrieved instrument, row percentages."""
    names, pct = conf["instruments"], np.asarray(conf["percent"], dtype=float)
    fig, ax = plt.subplots(figsize=(4.8, 4.2))
    ax.imshow(np.nan_to_num(pct), vmin=0, vmax=100, cmap="Blues")
    for i in range(len(names)):
        for j in range(len(names)):
            if np.isfinite(pct[i, j]):
                ax.text(
                    j, i, f"{pct[i, j]:.0f}", ha="center", va="center", color="black" if pct[i, j] < 60 else "white"
                )
    ax.set_xticks(range(len(names)), names, rotation=30)
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("instrument of the top hit")
    ax.set_ylabel("queried instrument")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def recall_png(systems: Mapping[str, Mapping[str, Any]], protocol: str, path: Path) -> None:
    """Grouped bars of R@1/5/10 per system with bootstrap intervals."""
    names = list(systems)
    ks = ("R@1", "R@5", "R@10")
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(names)), 4))
    x = np.arange(len(names))
    for i, k in enumerate(ks):
        vals = np.array([systems[n][protocol]["metrics"][k] for n in names])
        ci = [systems[n][protocol]["ci95"].get(k, [v, v]) for n, v in zip(names, vals, strict=True)]
        err = np.array(
            [
                [v - lo for (lo, _), v in zip(ci, vals, strict=True)],
                [hi - v for (_, hi), v in zip(ci, vals, strict=True)],
            ]
        )
        ax.bar(x + (i - 1) * 0.27, vals, 0.27, yerr=np.clip(err, 0, None), capsize=2, label=k)
    ax.set_xticks(x, names, rotation=20, ha="right", fontsize=7)
    ax.set_ylabel("%")
    ax.set_title(f"Recall, protocol {protocol} (bootstrap 95 % CI)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def curves_png(
    lags_s: np.ndarray, per_song: Sequence[np.ndarray], mean: np.ndarray, unrelated: np.ndarray, title: str, path: Path
) -> None:
    """Figure 4: similarity vs time shift per song (thin), averaged (thick) and for unrelated pairs (dashed)."""
    fig, ax = plt.subplots(figsize=(8, 4))
    for curve in per_song:
        ax.plot(lags_s, curve, lw=0.6, alpha=0.35)
    ax.plot(lags_s, mean, lw=2.2, color="black", label="mean over songs")
    ax.plot(lags_s, unrelated, lw=1.6, ls="--", color="grey", label="unrelated pairs")
    ax.axvline(0, color="red", lw=0.6)
    ax.set_xlabel("shift (s)")
    ax.set_ylabel("cosine similarity")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def histogram_png(values: np.ndarray, xlabel: str, title: str, path: Path, bins: int = 41) -> None:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(values, bins=bins, color="#264653")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def compat_png(systems: Mapping[str, Mapping[str, Any]], level: str, metrics: Sequence[str], path: Path) -> None:
    """Grouped bars of compatibility metrics per system with bootstrap intervals; protocols A and B side by side."""
    names = list(systems)
    fig, axes = plt.subplots(1, 2, figsize=(max(8, 2.4 * len(names)), 4), sharey=True)
    x = np.arange(len(names))
    width = 0.8 / len(metrics)
    for ax, protocol in zip(axes, ("A", "B"), strict=True):
        for i, k in enumerate(metrics):
            results = [systems[n][protocol][level] for n in names]
            vals = np.array([r["metrics"][k] for r in results])
            ci = np.array([r["ci95"].get(k, [v, v]) for r, v in zip(results, vals, strict=True)])
            err = np.clip(np.stack([vals - ci[:, 0], ci[:, 1] - vals]), 0, None)
            ax.bar(x + (i - (len(metrics) - 1) / 2) * width, vals, width, yerr=err, capsize=2, label=k)
        ax.set_xticks(x, names, rotation=20, ha="right", fontsize=7)
        ax.set_title(f"{level} relevance, protocol {protocol}", fontsize=9)
    axes[0].set_ylabel("% (bootstrap 95 % CI)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def top1_png(shares: Mapping[str, Mapping[str, float]], categories: Sequence[str], title: str, path: Path) -> None:
    """Stacked bars: what each system's top hit is (relevant, or which kind of wrong answer), % of queries."""
    names = list(shares)
    cmap = plt.get_cmap("tab10")
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(names) + 2.0))
    left = np.zeros(len(names))
    for k, cat in enumerate(categories):
        vals = np.nan_to_num(np.array([shares[n][cat] for n in names], dtype=float))
        ax.barh(names, vals, left=left, color=cmap(k % 10), label=cat)
        left += vals
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of queries (top hit)")
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=7)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.08), ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
