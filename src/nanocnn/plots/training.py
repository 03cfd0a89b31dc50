"""The learning curves of a training run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from nanocnn.plots.figure import pyplot, save

NOT_METRICS = ("lr", "seconds", "epoch")  # history keys that are bookkeeping, not metrics


def plot_history(history: Mapping[str, Sequence[float]], path: str | Path) -> Path:
    """Learning curves: one subplot per metric, training and validation against epoch 1..E.

    ``history`` maps names to per-epoch values, e.g. ``{"loss": [...], "val_loss": [...],
    "accuracy": [...], "lr": [...], "seconds": [...]}``. Each name ``k`` (or ``val_k``) is a
    metric, except the bookkeeping ``lr``, ``seconds`` and ``epoch``; ``k`` is drawn as
    "train" and ``val_k`` as "validation" when present. All series must have E values.
    """
    metric_names = list(
        dict.fromkeys(key.removeprefix("val_") for key in history if key not in NOT_METRICS)
    )
    if not metric_names:
        raise ValueError(f"history holds no metric to plot, only {sorted(history)}")
    lengths = {key: len(history[key]) for key in history if key not in NOT_METRICS}
    epochs = max(lengths.values())
    if epochs == 0 or any(n != epochs for n in lengths.values()):
        raise ValueError(f"history series must all have the same non-zero length, got {lengths}")

    plt = pyplot()
    x = np.arange(1, epochs + 1)
    fig, axes = plt.subplots(
        1, len(metric_names), figsize=(4.2 * len(metric_names), 3.4), squeeze=False
    )
    for ax, name in zip(axes.flat, metric_names, strict=True):
        for key, label in ((name, "train"), (f"val_{name}", "validation")):
            if key in history:
                ax.plot(x, history[key], marker="o", markersize=3, label=label)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.set_xlim(0.5, epochs + 0.5)
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True, min_n_ticks=1))
        ax.grid(alpha=0.3)
        if len(ax.get_lines()) > 1:
            ax.legend()
    fig.suptitle("Training history")
    fig.tight_layout()
    return save(fig, path)


def plot_lr_find(
    lrs: Sequence[float], losses: Sequence[float], suggestion: float, path: str | Path
) -> Path:
    """The learning-rate range test: the smoothed loss against the learning rate (log scale),
    with the suggested rate marked."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    ax.plot(lrs, losses)
    ax.axvline(suggestion, color="tab:red", linestyle="--", label=f"suggested {suggestion:.1e}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss (smoothed)")
    ax.set_title("Learning-rate range test")
    ax.legend()
    fig.tight_layout()
    return save(fig, path)


def plot_trials(
    trials: Sequence[tuple[int, float]], path: str | Path, higher_is_better: bool = True
) -> Path:
    """A tuning study: each finished trial's value by trial number, and the best so far."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    numbers = [number for number, _ in trials]
    values = np.array([value for _, value in trials], dtype=float)
    best = np.maximum.accumulate(values) if higher_is_better else np.minimum.accumulate(values)
    ax.scatter(numbers, values, s=14, label="trial")
    ax.step(numbers, best, where="post", color="tab:red", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel("validation figure")
    ax.set_title("Tuning trials")
    ax.legend()
    fig.tight_layout()
    return save(fig, path)
