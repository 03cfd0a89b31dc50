"""Numbers as small pictures for the page: signed heatmaps, encoded as PNG data URIs.

One colour scale for every number the "Look inside" view shows (activations, gradients,
weights): white at zero, red for positive numbers and blue for negative ones, full colour at
``±scale``. The pictures stay at one pixel per number; the page enlarges them with sharp
pixels (CSS ``image-rendering: pixelated``). Pillow (the ``app`` extra) encodes the PNGs.
"""

from __future__ import annotations

import base64
import io
import math

import numpy as np

from nanocnn._optional import require

POSITIVE = np.array([178.0, 24.0, 43.0])  # the ends of ColorBrewer's RdBu scale
NEGATIVE = np.array([33.0, 102.0, 172.0])
EMPTY = 235  # the gray of the cells of a grid that hold no number
STRIP = 16  # up to this many units are shown as one column; more as a near-square grid


def heat(values: np.ndarray, scale: float) -> np.ndarray:
    """(H, W) numbers as (H, W, 3) uint8 colours: white at 0, red toward ``+scale``, blue
    toward ``-scale`` (and beyond: clipped). NaN is the empty gray."""
    t = np.clip(np.nan_to_num(values / scale) if scale > 0 else 0 * values, -1, 1)
    colour = np.where(t[..., np.newaxis] >= 0, POSITIVE, NEGATIVE)
    rgb = 255 + np.abs(t)[..., np.newaxis] * (colour - 255)
    rgb[np.isnan(values)] = EMPTY
    return np.rint(rgb).astype(np.uint8)


def png_uri(pixels: np.ndarray) -> str:
    """A uint8 (H, W) gray or (H, W, 3) colour picture as a ``data:image/png`` URI."""
    image = require("PIL.Image", extra="app").fromarray(pixels)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)  # tiny pictures: speed over size
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def heat_uri(values: np.ndarray, scale: float) -> str:
    """:func:`heat` as a PNG data URI."""
    return png_uri(heat(values, scale))


def picture_uri(picture: np.ndarray) -> str:
    """An (H, W) gray or (H, W, 3) colour picture in [0, 1] as a PNG data URI."""
    return png_uri(np.rint(np.clip(picture, 0, 1) * 255).astype(np.uint8))


def grid_shape(count: int) -> tuple[int, int]:
    """(rows, columns) of the grid that shows ``count`` units: one column for a few, else
    near-square (rows first)."""
    if count <= STRIP:
        return count, 1
    rows = math.ceil(math.sqrt(count))
    return rows, math.ceil(count / rows)


def as_grid(units: np.ndarray) -> np.ndarray:
    """Units (K,) laid out in :func:`grid_shape`, row by row, NaN in the cells left over."""
    rows, columns = grid_shape(len(units))
    grid = np.full(rows * columns, np.nan)
    grid[: len(units)] = units
    return grid.reshape(rows, columns)


def tiles(kernels: np.ndarray) -> np.ndarray:
    """Kernels (C, kh, kw) as one (rows, columns) array of numbers: a near-square grid of
    them with a one-cell NaN gutter."""
    count, kh, kw = kernels.shape
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    grid = np.full((rows * (kh + 1) - 1, columns * (kw + 1) - 1), np.nan)
    for index, kernel in enumerate(kernels):
        top, left = (index // columns) * (kh + 1), (index % columns) * (kw + 1)
        grid[top : top + kh, left : left + kw] = kernel
    return grid


def outlined(pixels: np.ndarray, top: int, left: int, height: int, width: int) -> np.ndarray:
    """(H, W, 3) uint8 ``pixels`` enlarged 8 times with a black frame drawn around the
    window of ``height`` x ``width`` numbers at (top, left) (clipped to the picture)."""
    zoom = 8
    big = pixels.repeat(zoom, axis=0).repeat(zoom, axis=1)
    y0, x0 = max(top, 0) * zoom, max(left, 0) * zoom
    y1 = min(top + height, pixels.shape[0]) * zoom - 1
    x1 = min(left + width, pixels.shape[1]) * zoom - 1
    for y in (y0, y0 + 1, y1 - 1, y1):
        big[y, x0 : x1 + 1] = 0
    for x in (x0, x0 + 1, x1 - 1, x1):
        big[y0 : y1 + 1, x] = 0
    return big
