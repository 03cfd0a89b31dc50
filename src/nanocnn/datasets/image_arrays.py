"""Decode image files into square uint8 arrays for a network, one preallocated array for all.

Every image becomes (C, S, S) uint8 the same way, whether a data set loader, ``predict`` or the
web app reads it: ``open_image`` decodes it (any mode, depth or format) as grayscale (C = 1) or
RGB (C = 3); the largest centred square is cut out of it (a centre crop: the shorter side is
kept whole, the longer one loses equal margins, nothing is stretched); Pillow resizes that
square to S × S (bilinear, antialiased when shrinking). For a size H × W that is not square,
the crop has that aspect ratio instead.

>>> read_image("cat.jpg", size=32, channels=3).shape  # doctest: +SKIP
(3, 32, 32)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from nanocnn._optional import require
from nanocnn.errors import DataError
from nanocnn.images import DEFAULT_MAX_PIXELS, ImageSource, header_mode, open_image
from nanocnn.progress import Style, progress_bar

if TYPE_CHECKING:
    from nanocnn.parallel import Workers

MAX_PIXELS = DEFAULT_MAX_PIXELS  # a data set image larger than this (50 MP) is skipped
GRAY_MODES = frozenset({"1", "L", "LA", "I", "F", "I;16", "I;16L", "I;16B", "I;16N"})


class LoadedImages(NamedTuple):
    """The readable images among some files, and which files they came from."""

    x: np.ndarray  # (k, C, S, S) uint8, in the order of the files
    kept: np.ndarray  # (k,) int64: x[i] is files[kept[i]]
    unreadable: tuple[Path, ...]  # the files skipped, in order


def read_image(source: ImageSource, size: int | tuple[int, int], channels: int) -> np.ndarray:
    """Read one image as the loaders do: (C, H, W) uint8, C = ``channels`` (1 or 3), (H, W) =
    ``size`` (an int for a square).

    ``source`` is anything ``open_image`` reads (a path, bytes, a Pillow image, an array).
    Raises ``DataError`` naming the image when it cannot be read or has more than 50 MP.
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, not {channels}")
    height, width = (size, size) if isinstance(size, int) else size
    if min(height, width) < 1:
        raise ValueError(f"size must be at least 1, not {size}")
    pixels = open_image(source, "L" if channels == 1 else "RGB", max_pixels=MAX_PIXELS)
    return _fit(pixels, height, width)


def _fit(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """Centre-crop (H, W[, C]) uint8 ``pixels`` to the aspect ratio of ``height`` x ``width``
    (a square for a square), resize to that: (C, height, width) uint8."""
    rows, cols = pixels.shape[:2]
    crop_rows, crop_cols = (
        min(rows, round(cols * height / width)),
        min(cols, round(rows * width / height)),
    )
    top, left = (rows - crop_rows) // 2, (cols - crop_cols) // 2
    crop = pixels[top : top + crop_rows, left : left + crop_cols]
    if crop.shape[:2] != (height, width):
        Image = require("PIL.Image", extra="cli")
        image = Image.fromarray(crop).resize(
            (width, height), Image.Resampling.BILINEAR, reducing_gap=3.0
        )
        crop = np.asarray(image)
    chw = crop.reshape(height, width, -1).transpose(2, 0, 1)  # (H, W, C) -> (C, H, W)
    return np.ascontiguousarray(chw)


def _allocate(shape: tuple[int, int, int, int]) -> np.ndarray:
    """An empty uint8 array of ``shape`` (N, C, H, W), or a DataError saying how much memory
    the pictures need when that is more than the machine has free."""
    needed = int(np.prod(shape, dtype=np.int64))
    free = available_memory()
    count, channels, height, width = shape
    message = (
        f"{count:,} pictures of {channels}x{height}x{width} need {needed / 2**30:.1f} GiB of "
        f"memory, more than the {{free}} free: choose a smaller --image-size (or --limit)"
    )
    if free is not None and needed > free:
        raise DataError(message.format(free=f"{free / 2**30:.1f} GiB"))
    try:
        return np.empty(shape, np.uint8)
    except MemoryError:
        raise DataError(message.format(free="memory")) from None


def available_memory() -> int | None:
    """The bytes of memory a new allocation can have now: Linux's ``MemAvailable`` (free
    memory and the caches it may reclaim), None where the system does not say."""
    try:
        with open("/proc/meminfo") as file:
            for line in file:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    return None


def image_channels(files: Iterable[str | os.PathLike[str]]) -> int:
    """Return 1 if every image among ``files`` is grayscale, else 3, reading headers only.

    Grayscale modes: 1-bit, L, LA, 16- and 32-bit integer, float. Palette images count as
    colour, even with a gray palette (telling would mean decoding them). Files that cannot be
    opened are ignored here; the loader skips them. Stops at the first colour image.
    """
    for path in files:
        mode = header_mode(path)
        if mode is not None and mode not in GRAY_MODES:
            return 3
    return 1


def load_images(
    files: Sequence[str | os.PathLike[str]],
    size: int,
    channels: int,
    progress: Style = "auto",
    workers: Workers | None = None,
) -> LoadedImages:
    """Decode ``files`` with ``read_image`` into one preallocated (k, C, S, S) uint8 array.

    Memory: one uint8 array of len(files) × C × S × S bytes, filled image by image; the
    unreadable files are skipped (their rows stay unused at the end) and listed, not warned
    about. ``progress`` (:mod:`nanocnn.progress`): a tqdm bar on stderr for "bar", and for
    "auto" when stderr is a terminal.

    With the ``workers`` of a data-parallel run the ranks share the decoding: rank r of N
    decodes files r, r + N, r + 2N..., then every rank gathers every share into the array
    one process would have decoded (every rank must make the same call).
    """
    if workers is None or workers.size == 1:
        return _decode(files, size, channels, progress)
    share = _decode(files[workers.rank :: workers.size], size, channels,
                    progress if workers.is_root else "off")  # fmt: skip
    return _gathered(workers.gather((share.x, share.kept)), files, workers.size)


def _decode(
    files: Sequence[str | os.PathLike[str]], size: int, channels: int, progress: Style
) -> LoadedImages:
    """``load_images`` in this process alone."""
    x = _allocate((len(files), channels, size, size))
    kept: list[int] = []
    unreadable: list[Path] = []
    bar = progress_bar(len(files), "reading images", "img", progress, sys.stderr)
    try:
        for position, path in enumerate(files):
            try:
                x[len(kept)] = read_image(path, size, channels)
            except DataError:
                unreadable.append(Path(path))
            else:
                kept.append(position)
            if bar is not None:
                bar.update()
    finally:
        if bar is not None:
            bar.close()
    return LoadedImages(x[: len(kept)], np.array(kept, np.int64), tuple(unreadable))


def _gathered(
    shares: list[tuple[np.ndarray, np.ndarray]], files: Sequence[str | os.PathLike[str]], ranks: int
) -> LoadedImages:
    """The images of every rank's share (rank r decoded ``files[r::ranks]``: its ``kept[i]``
    is file ``r + ranks * kept[i]``) in the order of ``files``."""
    positions = [rank + ranks * kept for rank, (_, kept) in enumerate(shares)]
    kept = np.sort(np.concatenate(positions))
    x = np.empty((len(kept), *shares[0][0].shape[1:]), np.uint8)
    for (images, _), where in zip(shares, positions, strict=True):
        x[np.searchsorted(kept, where)] = images
    unreadable = np.setdiff1d(np.arange(len(files)), kept)
    return LoadedImages(x, kept.astype(np.int64), tuple(Path(files[i]) for i in unreadable))


def channel_stats(x: np.ndarray, chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of uint8 images ``x`` (N, C, H, W), in [0, 1] units.

    ``mean[c] = Σ x[:, c] / (255 M)`` and ``std[c] = sqrt(Σ x[:, c]² / (255² M) - mean[c]²)``
    over the M = N H W pixels of channel c, summed ``chunk`` images at a time in float64, so
    memory never holds more than ``chunk`` images as floats. Returns two (C,) float32 arrays;
    std is 0 for a constant channel (guard before dividing by it).
    """
    if x.ndim != 4 or x.shape[0] == 0:
        raise ValueError(f"expected a non-empty batch (N, C, H, W), got shape {x.shape}")
    total = np.zeros(x.shape[1])
    squares = np.zeros(x.shape[1])
    for start in range(0, x.shape[0], chunk):
        block = x[start : start + chunk].astype(np.float64)  # (chunk, C, H, W)
        total += block.sum(axis=(0, 2, 3))
        squares += np.square(block).sum(axis=(0, 2, 3))
    count = x.shape[0] * x.shape[2] * x.shape[3]
    mean = total / count
    variance = np.maximum(squares / count - mean**2, 0.0)
    return (mean / 255).astype(np.float32), (np.sqrt(variance) / 255).astype(np.float32)
