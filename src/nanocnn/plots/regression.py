"""A regression's test figures: predicted against true, and the error by range."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from nanocnn.metrics import mae
from nanocnn.plots.figure import check_1d_pair, pyplot, save


def plot_age_scatter(y_true: ArrayLike, y_pred: ArrayLike, path: str | Path) -> Path:
    """Predicted against true age, one dot per sample, with the diagonal y = x of a perfect
    prediction and the mean absolute error in the title."""
    y_true, y_pred = check_1d_pair(y_true, y_pred)
    error = mae(y_true, y_pred)

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.0, 5.0))
    ax.scatter(y_true, y_pred, s=8, alpha=0.4, label="sample")
    low = float(min(y_true.min(), y_pred.min()))
    high = float(max(y_true.max(), y_pred.max()))
    ax.plot([low, high], [low, high], color="tab:red", linewidth=1, label="y = x")
    ax.set_aspect("equal")
    ax.set_xlabel("true age (years)")
    ax.set_ylabel("predicted age (years)")
    ax.set_title(f"Predicted vs true age (MAE {error:.2f} years)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return save(fig, path)


def plot_error_by_bucket(
    y_true: ArrayLike, y_pred: ArrayLike, path: str | Path, bucket: int = 10
) -> Path:
    """Mean absolute error per bucket of true age (0–9, 10–19, ... for ``bucket=10``), with the
    number of samples written on each bar. Empty buckets are left out."""
    y_true, y_pred = check_1d_pair(y_true, y_pred)
    if bucket < 1:
        raise ValueError(f"bucket must be a positive number of years, got {bucket}")
    index = np.floor(y_true / bucket).astype(np.int64)  # (N,) bucket of each sample
    first = index.min()  # bincount needs bins from 0
    counts = np.bincount(index - first)
    errors = np.bincount(index - first, weights=np.abs(y_pred - y_true))
    present = np.flatnonzero(counts)
    starts = (present + first) * bucket
    labels = [f"{start}–{start + bucket - 1}" for start in starts]

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(5.0, 0.6 * len(labels) + 1.5), 3.8))
    bars = ax.bar(labels, errors[present] / counts[present], color="tab:blue")
    ax.bar_label(bars, labels=[f"n={c}" for c in counts[present]], fontsize=8, padding=2)
    ax.margins(y=0.12)
    ax.tick_params(axis="x", labelrotation=45)
    ax.set_xlabel("true age (years)")
    ax.set_ylabel("mean absolute error (years)")
    ax.set_title(f"Mean absolute error by age (overall {mae(y_true, y_pred):.2f} years)")
    fig.tight_layout()
    return save(fig, path)
