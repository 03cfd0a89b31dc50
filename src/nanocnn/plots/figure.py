"""What every figure shares: matplotlib on the Agg backend (imported when a figure is drawn,
so ``import nanocnn.plots`` works without it), saving as PNG, grids of tiles."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from nanocnn._optional import require

DPI = 100


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (files only, no window)."""
    require("matplotlib", extra="cli").use("Agg")
    return require("matplotlib.pyplot", extra="cli")


def save(fig: Any, path: str | Path) -> Path:
    """Save ``fig`` as a PNG at ``path``, creating the folders, and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.savefig(path, dpi=DPI, format="png")
    finally:
        pyplot().close(fig)
    return path


def check_1d_pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Two non-empty 1-D arrays of equal length."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim != 1 or y_pred.ndim != 1 or len(y_true) != len(y_pred) or len(y_true) == 0:
        raise ValueError(
            "y_true and y_pred must be non-empty 1-D arrays of equal length, "
            f"got shapes {y_true.shape} and {y_pred.shape}"
        )
    return y_true, y_pred


def rescale(tiles: np.ndarray) -> np.ndarray:
    """Map each tile ``tiles[i]`` linearly onto [0, 1] by its own min and max, as float64.

    A flat tile becomes 0.5 (mid-gray).
    """
    tiles = tiles.astype(np.float64)
    axes = tuple(range(1, tiles.ndim))
    low, high = tiles.min(axis=axes, keepdims=True), tiles.max(axis=axes, keepdims=True)
    span = high - low
    return np.divide(tiles - low, span, out=np.full(tiles.shape, 0.5), where=span > 0)


def grid(tiles: np.ndarray, titles: Sequence[str] | None, suptitle: str, cmap: str) -> Any:
    """A figure with the tiles (N, H, W) or (N, H, W, 3) in a near-square grid, no axes."""
    plt = pyplot()
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
