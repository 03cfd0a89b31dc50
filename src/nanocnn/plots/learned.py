"""What a network learned: its filters and the maps they make of an input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from nanocnn.plots.figure import grid, rescale, save


def plot_filters(weight: ArrayLike, path: str | Path, title: str = "Convolution filters") -> Path:
    """One tile per output filter of a convolution weight (out, in, kh, kw), as in PyTorch.

    A tile shows the first input channel in gray, or the filter as an RGB image when in = 3,
    each rescaled to its own range so that the pattern shows whatever its scale.
    """
    weight = np.asarray(weight)
    if weight.ndim != 4 or weight.size == 0:
        raise ValueError(f"weight must have shape (out, in, kh, kw), got {weight.shape}")
    channels = weight.transpose(0, 2, 3, 1) if weight.shape[1] == 3 else weight[:, 0]
    tiles = rescale(channels)
    out, cin, kh, kw = weight.shape
    fig = grid(tiles, None, f"{title}\n{out} filters of {cin} x {kh} x {kw}", cmap="gray")
    return save(fig, path)


def plot_feature_maps(maps: ArrayLike, path: str | Path, title: str = "Feature maps") -> Path:
    """One tile per channel of the feature maps (C, H, W) of one image, each rescaled to its
    own range (a flat map shows as mid-gray)."""
    maps = np.asarray(maps)
    if maps.ndim != 3 or maps.size == 0:
        raise ValueError(f"maps must have shape (C, H, W) for one image, got {maps.shape}")
    tiles = rescale(maps)
    titles = [f"channel {c}" for c in range(len(maps))]
    fig = grid(
        tiles,
        titles,
        f"{title}\n{len(maps)} channels of {maps.shape[1]} x {maps.shape[2]}",
        cmap="viridis",
    )
    return save(fig, path)
