"""A classifier's test figures: the confusion matrix and the pictures it got wrong."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from nanocnn.plots.figure import check_1d_pair, grid, pyplot, rescale, save


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

    plt = pyplot()
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
    return save(fig, path)


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
    y_true, y_pred = check_1d_pair(y_true, y_pred)
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
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(4.0, 2.0))
        ax.axis("off")
        ax.text(0.5, 0.5, "No misclassified examples", ha="center", va="center", fontsize=12)
        ax.set_title(f"Misclassified: 0 of {len(y_true)}")
        return save(fig, path)

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
    fig = grid(rescale(tiles), titles, suptitle, cmap="gray")
    return save(fig, path)
