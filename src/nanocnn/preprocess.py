"""Turn a photo or drawing of one digit into a 28×28 input shaped like the MNIST digits.

MNIST's digits are light ink on a dark background, size-normalised to fit a 20×20 box (keeping
their aspect ratio, antialiased) and placed in a 28×28 field so that their centre of mass lies
at its centre. ``preprocess_digit`` does the same to any image ``open_image`` reads:

>>> x = preprocess_digit("my-seven.png")  # doctest: +SKIP
>>> x.shape, x.dtype  # doctest: +SKIP
((1, 28, 28), dtype('float32'))
"""

from __future__ import annotations

import numpy as np

from nanocnn._optional import require
from nanocnn.errors import BlankImageError
from nanocnn.images import ImageSource, open_image

SIZE = 28  # side of the output field
BOX = 20  # side of the box the digit is scaled to fit
INK_THRESHOLD = 0.2  # levels below this fraction of the way from paper to ink are background ...
NOISE_SIGMAS = 5.0  # ... and so are those within this many standard deviations of the paper's
MIN_CONTRAST = 0.15  # ink at least this much brighter than the paper (levels in [0, 1])
TRIM = 0.005  # ink mass left outside the crop at each side: specks of dust, stray noise
MIN_EXTENT = 0.04  # the ink's longer side, as a fraction of the image's shorter side ...
MIN_EXTENT_PX = 3  # ... and in pixels, below which the ink is a stray dot, not a digit
MAD_TO_SIGMA = 1.4826  # a median absolute deviation times this estimates a normal's sigma
MAX_SIDE = 1024  # larger photos are shrunk to this first: a 20x20 digit needs no more detail

FRAME = 4  # MNIST's digits leave a frame this wide almost empty (their 20x20 box, centred)
MAX_FRAME_INK = 0.1  # at most this share of the ink in the frame, on average, looks like MNIST
SAMPLE = 5000  # images looked at to tell

BLANK_MESSAGE = "no digit found: draw a digit, dark on light or light on dark"
SPECK_MESSAGE = "no digit found: draw a digit, larger than a dot"


def preprocess_digit(image: ImageSource) -> np.ndarray:
    """Return ``image`` as one MNIST-like digit: (1, 28, 28) float32 in [0, 1], ink bright.

    ``image`` is anything ``open_image`` reads. The steps, as MNIST's digits were made:

    1. Gray levels in [0, 1], split into paper and ink at Otsu's threshold; the paper is the
       side most of the border belongs to, so dark ink on a light background (a drawing, a
       photo of paper) is inverted, and ink may touch the edges (a tightly cropped scan).
    2. The paper's level is a plane fitted to the paper's pixels (so shading across a photo
       cancels) and its noise their spread; levels are stretched so paper becomes 0 and the
       brightest ink 1, cutting to 0 what is within ``INK_THRESHOLD`` of the paper or within
       ``NOISE_SIGMAS`` of its noise.
    3. The crop is the ink's bounding box, less ``TRIM`` of the ink mass at each side.
    4. The crop is scaled (Lanczos, antialiased) so its longer side is 20 pixels, keeping its
       aspect ratio, and placed in the 28×28 field with its centre of mass at pixel (14, 14),
       rows and columns counted from 0.

    Raises ``BlankImageError`` when the image holds no digit: no contrast, or ink too small.
    """
    gray = _shrink(open_image(image, mode="L")).astype(np.float32) / 255  # (H, W) in [0, 1]
    ink = _ink_levels(gray)
    if not ink.any():
        raise BlankImageError(BLANK_MESSAGE)
    top, bottom = _mass_span(ink.sum(axis=1))
    left, right = _mass_span(ink.sum(axis=0))
    longer = max(bottom - top, right - left) + 1
    if longer < max(MIN_EXTENT_PX, MIN_EXTENT * min(gray.shape)):
        raise BlankImageError(SPECK_MESSAGE)
    digit = _fit_box(ink[top : bottom + 1, left : right + 1])
    return _place_by_mass(digit)[np.newaxis]


def _shrink(pixels: np.ndarray) -> np.ndarray:
    """``pixels`` (H, W) uint8, scaled down (box filter) so neither side exceeds MAX_SIDE."""
    if max(pixels.shape) <= MAX_SIDE:
        return pixels
    image = require("PIL.Image", extra="cli")
    picture = image.fromarray(pixels)
    picture.thumbnail((MAX_SIDE, MAX_SIDE), image.Resampling.BOX)
    return np.asarray(picture)


def center_of_mass(image: np.ndarray) -> tuple[float, float]:
    """Return the (row, column) centre of mass of a non-negative 2-D ``image`` with some mass.

    Pixel (i, j) counts as the point (i, j): a single lit pixel at (3, 5) gives (3.0, 5.0).
    """
    mass = image.sum()
    row = float((image.sum(axis=1) * np.arange(image.shape[0])).sum() / mass)
    col = float((image.sum(axis=0) * np.arange(image.shape[1])).sum() / mass)
    return row, col


def _ink_levels(gray: np.ndarray) -> np.ndarray:
    """Return how much ink each pixel holds, in [0, 1], from a (H, W) gray image in [0, 1].

    The paper is found from the histogram, so ink may reach the picture's edges (a tightly
    cropped scan): the levels split in two at Otsu's threshold, the paper is the side that
    holds most of the border, and its level is a plane fitted to its pixels (shading across a
    photo cancels), refitted once to all the pixels then below the ink threshold.
    Returns all zeros when the ink is no brighter than the paper by ``MIN_CONTRAST``.
    """
    threshold = _otsu_threshold(gray)
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if np.mean(border > threshold) > 0.5:  # light paper: make the ink the bright side
        gray, threshold = 1 - gray, 1 - threshold
    # The paper side less the ink's antialiased edges: below halfway from the paper's level
    # (5th percentile) to the threshold. Its spread is the paper's noise.
    paper_pixels = gray <= (np.percentile(gray, 5) + threshold) / 2
    flat = gray - _fit_plane(gray, paper_pixels)
    # Refitted to every pixel then below the ink threshold: shaded paper the split missed.
    flat = gray - _fit_plane(gray, flat <= INK_THRESHOLD * flat.max())
    peak = float(flat.max())
    if peak < MIN_CONTRAST:
        return np.zeros_like(gray)
    residuals = flat[paper_pixels]
    noise = MAD_TO_SIGMA * float(np.median(np.abs(residuals - np.median(residuals))))
    low = max(INK_THRESHOLD * peak, NOISE_SIGMAS * noise)
    return np.clip((flat - low) / max(peak - low, 1e-6), 0, 1)


def _otsu_threshold(gray: np.ndarray, bins: int = 256) -> float:
    """The level that splits ``gray``'s histogram into two classes of the largest
    between-class variance (Otsu 1979): levels <= it form the lower class."""
    counts, edges = np.histogram(gray, bins=bins, range=(0.0, 1.0))
    levels = (edges[:-1] + edges[1:]) / 2
    weight = np.cumsum(counts)  # pixels at or below each level
    mass = np.cumsum(counts * levels)
    total, total_mass = weight[-1], mass[-1]
    above = total - weight
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mass * total - weight * total_mass) ** 2 / (weight * above)
    between[~np.isfinite(between)] = -1.0
    return float(edges[1:][np.argmax(between)])


def _fit_plane(gray: np.ndarray, where: np.ndarray) -> np.ndarray:
    """The least-squares plane a + b * row + c * column through ``gray``'s pixels ``where``
    (a boolean (H, W) mask; a flat zero plane if it selects fewer than three), as (H, W)."""
    rows, cols = np.nonzero(where)
    if rows.size < 3:
        return np.zeros_like(gray)
    design = np.stack([np.ones(rows.size), rows, cols], axis=1).astype(np.float64)  # (P, 3)
    coef, *_ = np.linalg.lstsq(design, gray[rows, cols].astype(np.float64), rcond=None)
    height, width = gray.shape
    plane = coef[0] + coef[1] * np.arange(height)[:, None] + coef[2] * np.arange(width)
    return plane.astype(gray.dtype)


def _mass_span(profile: np.ndarray) -> tuple[int, int]:
    """Return the first and last index of a 1-D ink ``profile``, less ``TRIM`` of it each side."""
    cumulative = np.cumsum(profile) / profile.sum()
    first = int(np.searchsorted(cumulative, TRIM, side="right"))
    last = int(np.searchsorted(cumulative, 1 - TRIM, side="left"))
    return first, min(last, profile.size - 1)


def _fit_box(ink: np.ndarray) -> np.ndarray:
    """Scale a cropped (h, w) ink image so its longer side is ``BOX``, keeping its aspect ratio.

    Returns (h', w') float32 with max(h', w') == BOX, rescaled so the brightest ink is 1.
    """
    Image = require("PIL.Image", extra="cli")
    height, width = ink.shape
    scale = BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))  # Pillow: (w, h)
    resized = Image.fromarray(ink.astype(np.float32)).resize(size, Image.Resampling.LANCZOS)
    box = np.clip(np.asarray(resized), 0, None)  # Lanczos rings slightly below 0
    return (box / box.max()).astype(np.float32)


def _place_by_mass(digit: np.ndarray) -> np.ndarray:
    """Paste a (h, w) digit, h and w at most ``BOX``, into a ``SIZE``×``SIZE`` zero field.

    It is shifted by whole pixels so its centre of mass lands as near (14, 14) as the field's
    edges allow. Returns (SIZE, SIZE) float32.
    """
    height, width = digit.shape
    row, col = center_of_mass(digit)
    top = int(np.clip(round(SIZE / 2 - row), 0, SIZE - height))
    left = int(np.clip(round(SIZE / 2 - col), 0, SIZE - width))
    field = np.zeros((SIZE, SIZE), np.float32)
    field[top : top + height, left : left + width] = digit
    return field


def looks_like_mnist(x: np.ndarray) -> bool:
    """Whether images ``x`` (N, 1, 28, 28) in [0, 1] were made as MNIST's digits were: light
    ink on a dark field, scaled into the middle 20x20 box and centred, so that what
    :func:`preprocess_digit` makes of a picture is what the model was trained on.

    The test: on average less than ``MAX_FRAME_INK`` of an image's ink lies in the outer
    ``FRAME`` pixels (MNIST: 3%; pictures that fill the frame, or dark ink on white: 25% and
    more), over the first ``SAMPLE`` images.
    """
    if x.ndim != 4 or x.shape[1:] != (1, SIZE, SIZE) or len(x) == 0:
        return False
    images = x[:SAMPLE, 0].astype(np.float64)  # (n, 28, 28)
    inner = images[:, FRAME:-FRAME, FRAME:-FRAME].sum(axis=(1, 2))
    total = images.sum(axis=(1, 2))
    share = (total - inner) / np.maximum(total, 1e-12)
    return bool(share.mean() < MAX_FRAME_INK)
