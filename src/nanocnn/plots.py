"""Figures for training and evaluation, each saved as a PNG.

Every function draws one figure, saves it at ``path`` (creating the parent folders), closes it
and returns the path. Matplotlib is imported inside each function, with the non-interactive
Agg backend, so ``import nanocnn.plots`` works without it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from nanocnn._optional import require
from nanocnn.metrics import mae

__all__ = [
    "plot_age_scatter",
    "plot_confusion_matrix",
    "plot_error_by_bucket",
    "plot_feature_maps",
    "plot_filters",
    "plot_history",
    "plot_misclassified",
]

DPI = 100
NOT_METRICS = ("lr", "seconds", "epoch")  # history keys that are bookkeeping, not metrics


def _pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (files only, no window)."""
    require("matplotlib", extra="cli").use("Agg")
    return require("matplotlib.pyplot", extra="cli")


def _save(fig: Any, path: str | Path) -> Path:
    """Save ``fig`` as a PNG at ``path``, creating the folders, and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.savefig(path, dpi=DPI, format="png")
    finally:
        _pyplot().close(fig)
    return path


def _check_1d_pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Two non-empty 1-D arrays of equal length."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim != 1 or y_pred.ndim != 1 or len(y_true) != len(y_pred) or len(y_true) == 0:
        raise ValueError(
            "y_true and y_pred must be non-empty 1-D arrays of equal length, "
            f"got shapes {y_true.shape} and {y_pred.shape}"
        )
    return y_true, y_pred


def _rescale(tiles: np.ndarray) -> np.ndarray:
    """Map each tile ``tiles[i]`` linearly onto [0, 1] by its own min and max, as float64.

    A flat tile becomes 0.5 (mid-gray).
    """
    tiles = tiles.astype(np.float64)
    axes = tuple(range(1, tiles.ndim))
    low, high = tiles.min(axis=axes, keepdims=True), tiles.max(axis=axes, keepdims=True)
    span = high - low
    return np.divide(tiles - low, span, out=np.full(tiles.shape, 0.5), where=span > 0)


def _grid(tiles: np.ndarray, titles: Sequence[str] | None, suptitle: str, cmap: str) -> Any:
    """A figure with the tiles (N, H, W) or (N, H, W, 3) in a near-square grid, no axes."""
    plt = _pyplot()
    cols = math.ceil(math.sqrt(len(tiles)))
    rows = math.ceil(len(tiles) / cols)
    size = 1.3 if titles is None else 1.6
    fig, axes = plt.subplots(
        rows, cols, figsize=(max(size * cols, 3.0), size * rows + 0.6), squeeze=False
    )
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(tiles):
            ax.imshow(tiles[i], cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
            if titles is not None:
                ax.set_title(titles[i], fontsize=8)
    fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------- training


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

    plt = _pyplot()
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
    return _save(fig, path)


# ---------------------------------------------------------------------------- classification


def plot_confusion_matrix(
    cm: ArrayLike, path: str | Path, class_names: Sequence[str] | None = None
) -> Path:
    """Heatmap of a (K, K) confusion matrix (rows = true class, columns = predicted).

    Each cell is coloured by its share of the row, ``cm[i, j] / sum_j cm[i, j]`` (the recall
    on the diagonal), and shows its count.
    """
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.size == 0:
        raise ValueError(f"cm must be a square (K, K) matrix, got shape {cm.shape}")
    if np.any(cm < 0):
        raise ValueError("cm must hold non-negative counts")
    k = len(cm)
    names = [str(i) for i in range(k)] if class_names is None else list(class_names)
    if len(names) != k:
        raise ValueError(f"class_names has {len(names)} names for a {k} x {k} matrix")

    plt = _pyplot()
    rows = cm.sum(axis=1, keepdims=True)
    shares = np.divide(cm, rows, out=np.zeros(cm.shape), where=rows != 0)
    side = max(4.0, 0.45 * k + 2.0)
    fig, ax = plt.subplots(figsize=(side + 1.0, side))
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, label="share of the true class")
    for (i, j), count in np.ndenumerate(cm):
        colour = "white" if shares[i, j] > 0.5 else "black"
        ax.text(j, i, str(count), ha="center", va="center", color=colour, fontsize=9)
    if max(map(len, names)) > 2:
        ax.set_xticks(range(k), names, rotation=45, ha="right", rotation_mode="anchor")
    else:
        ax.set_xticks(range(k), names)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"Confusion matrix ({int(cm.sum())} samples)")
    fig.tight_layout()
    return _save(fig, path)


def plot_misclassified(
    images: ArrayLike,
    y_true: ArrayLike,
    y_pred: ArrayLike,
    path: str | Path,
    max_images: int = 36,
    probabilities: ArrayLike | None = None,
    class_names: Sequence[str] | None = None,
) -> Path:
    """A grid of the first ``max_images`` misclassified images, titled "true 7 / pred 1"
    (with ``class_names``, the names of the classes instead of their numbers).

    ``images`` is (N, H, W), (N, 1, H, W) or (N, 3, H, W); each is rescaled to its own range.
    ``probabilities`` adds the confidence of the prediction to each title: either (N,), the
    probability of the predicted class, or (N, K), the probabilities of every class.
    """
    images = np.asarray(images)
    if not (images.ndim == 3 or (images.ndim == 4 and images.shape[1] in (1, 3))):
        raise ValueError(
            f"images must have shape (N, H, W), (N, 1, H, W) or (N, 3, H, W), got {images.shape}"
        )
    y_true, y_pred = _check_1d_pair(y_true, y_pred)
    if len(images) != len(y_true):
        raise ValueError(f"images has {len(images)} samples but the labels have {len(y_true)}")
    if max_images < 1:
        raise ValueError(f"max_images must be at least 1, got {max_images}")
    confidence = None
    if probabilities is not None:
        chances = np.asarray(probabilities)
        if chances.ndim == 2 and len(chances) == len(y_pred):
            chances = chances[np.arange(len(y_pred)), y_pred]
        if chances.shape != y_pred.shape:
            raise ValueError(
                f"probabilities must have shape (N,) or (N, K) with N = {len(y_pred)}, "
                f"got {np.shape(probabilities)}"
            )
        confidence = chances

    wrong = np.flatnonzero(y_true != y_pred)
    if len(wrong) == 0:
        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(4.0, 2.0))
        ax.axis("off")
        ax.text(0.5, 0.5, "No misclassified examples", ha="center", va="center", fontsize=12)
        ax.set_title(f"Misclassified: 0 of {len(y_true)}")
        return _save(fig, path)

    shown = wrong[:max_images]

    def name(k: int) -> str:
        return str(k) if class_names is None else class_names[k]

    titles = [
        f"true {name(y_true[i])} / pred {name(y_pred[i])}"
        + ("" if confidence is None else f" ({confidence[i]:.2f})")
        for i in shown
    ]
    suptitle = f"Misclassified: {len(wrong)} of {len(y_true)}"
    if len(shown) < len(wrong):
        suptitle += f" (first {len(shown)} shown)"
    tiles = images[shown]
    if tiles.ndim == 4:  # (n, 1, H, W) -> (n, H, W); (n, 3, H, W) -> (n, H, W, 3)
        tiles = tiles[:, 0] if tiles.shape[1] == 1 else tiles.transpose(0, 2, 3, 1)
    fig = _grid(_rescale(tiles), titles, suptitle, cmap="gray")
    return _save(fig, path)


# ------------------------------------------------------------------------------ what it learned


def plot_filters(weight: ArrayLike, path: str | Path, title: str = "Convolution filters") -> Path:
    """One tile per output filter of a convolution weight (out, in, kh, kw), as in PyTorch.

    A tile shows the first input channel in gray, or the filter as an RGB image when in = 3,
    each rescaled to its own range so that the pattern shows whatever its scale.
    """
    weight = np.asarray(weight)
    if weight.ndim != 4 or weight.size == 0:
        raise ValueError(f"weight must have shape (out, in, kh, kw), got {weight.shape}")
    channels = weight.transpose(0, 2, 3, 1) if weight.shape[1] == 3 else weight[:, 0]
    tiles = _rescale(channels)
    out, cin, kh, kw = weight.shape
    fig = _grid(tiles, None, f"{title}\n{out} filters of {cin} x {kh} x {kw}", cmap="gray")
    return _save(fig, path)


def plot_feature_maps(maps: ArrayLike, path: str | Path, title: str = "Feature maps") -> Path:
    """One tile per channel of the feature maps (C, H, W) of one image, each rescaled to its
    own range (a flat map shows as mid-gray)."""
    maps = np.asarray(maps)
    if maps.ndim != 3 or maps.size == 0:
        raise ValueError(f"maps must have shape (C, H, W) for one image, got {maps.shape}")
    tiles = _rescale(maps)
    titles = [f"channel {c}" for c in range(len(maps))]
    fig = _grid(
        tiles,
        titles,
        f"{title}\n{len(maps)} channels of {maps.shape[1]} x {maps.shape[2]}",
        cmap="viridis",
    )
    return _save(fig, path)


# -------------------------------------------------------------------------------- regression


def plot_age_scatter(y_true: ArrayLike, y_pred: ArrayLike, path: str | Path) -> Path:
    """Predicted against true age, one dot per sample, with the diagonal y = x of a perfect
    prediction and the mean absolute error in the title."""
    y_true, y_pred = _check_1d_pair(y_true, y_pred)
    error = mae(y_true, y_pred)

    plt = _pyplot()
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
    return _save(fig, path)


def plot_error_by_bucket(
    y_true: ArrayLike, y_pred: ArrayLike, path: str | Path, bucket: int = 10
) -> Path:
    """Mean absolute error per bucket of true age (0–9, 10–19, ... for ``bucket=10``), with the
    number of samples written on each bar. Empty buckets are left out."""
    y_true, y_pred = _check_1d_pair(y_true, y_pred)
    if bucket < 1:
        raise ValueError(f"bucket must be a positive number of years, got {bucket}")
    index = np.floor(y_true / bucket).astype(np.int64)  # (N,) bucket of each sample
    first = index.min()  # bincount needs bins from 0
    counts = np.bincount(index - first)
    errors = np.bincount(index - first, weights=np.abs(y_pred - y_true))
    present = np.flatnonzero(counts)
    starts = (present + first) * bucket
    labels = [f"{start}–{start + bucket - 1}" for start in starts]

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(5.0, 0.6 * len(labels) + 1.5), 3.8))
    bars = ax.bar(labels, errors[present] / counts[present], color="tab:blue")
    ax.bar_label(bars, labels=[f"n={c}" for c in counts[present]], fontsize=8, padding=2)
    ax.margins(y=0.12)
    ax.tick_params(axis="x", labelrotation=45)
    ax.set_xlabel("true age (years)")
    ax.set_ylabel("mean absolute error (years)")
    ax.set_title(f"Mean absolute error by age (overall {mae(y_true, y_pred):.2f} years)")
    fig.tight_layout()
    return _save(fig, path)
