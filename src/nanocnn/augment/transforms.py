"""Random transforms of image batches (N, C, H, W), vectorised over the batch: each draws
one set of parameters per image from the generator it is given, then calls a deterministic
function that takes those parameters explicitly (``affine``, ``shift``), so the geometry can be
tested on its own. The input is never written to. Coordinates are (row, col) = (y, x), rows
pointing down; geometric transforms fill with zeros where the output looks outside the
source image.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def _check_batch(x: np.ndarray) -> None:
    if x.ndim != 4:
        raise ValueError(f"expected an image batch of shape (N, C, H, W), got shape {x.shape}")


def random_flip(x: np.ndarray, rng: np.random.Generator, p: float = 0.5) -> np.ndarray:
    """Mirror each image left-right with probability ``p``.

    ``y[n] = x[n, :, :, ::-1]`` for the chosen ``n``, ``y[n] = x[n]`` for the others. Use it for
    faces and natural images, never for digits or text: a mirrored 2 or 7 is no longer a digit.
    """
    _check_batch(x)
    flipped = rng.random(x.shape[0]) < p  # (N,) which images to mirror
    y = x.copy()
    y[flipped] = x[flipped, :, :, ::-1]
    return y


def shift(x: np.ndarray, offsets: npt.ArrayLike) -> np.ndarray:
    """Translate image ``n`` by the whole pixels ``offsets[n] = (dy, dx)``, filling with zeros.

    ``y[n, c, i, j] = x[n, c, i - dy, j - dx]`` (zero where that falls outside), so a positive
    ``dy`` moves the content down and a positive ``dx`` moves it right. This is "random crop with
    padding": pad by ``m = max |offset|`` on every side, then cut an (H, W) window per image.

    Args:
        x: images, (N, C, H, W).
        offsets: integers, (N, 2).
    """
    _check_batch(x)
    offsets = np.asarray(offsets)
    if offsets.shape != (x.shape[0], 2) or offsets.dtype.kind not in "iu":
        raise ValueError(
            f"offsets must be integers of shape ({x.shape[0]}, 2), got {offsets.shape}"
        )
    h, w = x.shape[2:]
    m = int(np.abs(offsets).max(initial=0))
    padded = np.pad(x, ((0, 0), (0, 0), (m, m), (m, m)))  # (N, C, H + 2m, W + 2m)
    # windows[n, c, a, b] is the (H, W) window whose top-left corner is padded[n, c, a, b].
    windows = np.lib.stride_tricks.sliding_window_view(padded, (h, w), axis=(2, 3))
    n = np.arange(x.shape[0])
    # Advanced indices on axes 0, 2, 3 around a slice: the batch axis comes first -> (N, C, H, W).
    return windows[n, :, m - offsets[:, 0], m - offsets[:, 1]]


def random_shift(x: np.ndarray, rng: np.random.Generator, max_shift: int = 2) -> np.ndarray:
    """Translate each image by integers (dy, dx) drawn uniformly from [-max_shift, max_shift].

    See ``shift``: zeros fill the uncovered border, pixels moved past the edge are lost.
    """
    _check_batch(x)
    offsets = rng.integers(-max_shift, max_shift, size=(x.shape[0], 2), endpoint=True)
    return shift(x, offsets)


def affine_matrices(
    angles: npt.ArrayLike, scales: npt.ArrayLike, shifts: npt.ArrayLike | None = None
) -> np.ndarray:
    """The inverse matrices for ``affine`` that rotate, scale, then shift each image.

    Image ``n`` is rotated by ``angles[n]`` degrees counter-clockwise as displayed (rows down),
    magnified by ``scales[n]`` about its centre, then moved by ``shifts[n] = (dy, dx)`` pixels.
    ``affine`` needs the inverse map, from an output point ``p`` (relative to the centre) back to
    its source ``q = A⁻¹ (p - t)`` with ``A = s R(θ)``. In (row, col) coordinates

        A⁻¹ = (1/s) [[cos θ,  sin θ],
                     [-sin θ, cos θ]]

    Args:
        angles: degrees, (N,).
        scales: magnification factors > 0, (N,).
        shifts: pixels (dy, dx), (N, 2); zero if omitted.

    Returns:
        (N, 2, 3) matrices ``[A⁻¹ | -A⁻¹ t]``.
    """
    theta = np.deg2rad(np.asarray(angles, dtype=np.float64))
    scales = np.asarray(scales, dtype=np.float64)
    cos, sin = np.cos(theta) / scales, np.sin(theta) / scales  # (N,)
    linear = np.stack([np.stack([cos, sin], -1), np.stack([-sin, cos], -1)], -2)  # (N, 2, 2)
    if shifts is None:
        shifts = np.zeros((theta.shape[0], 2))
    offset = -np.einsum("nij,nj->ni", linear, np.asarray(shifts, dtype=np.float64))  # (N, 2)
    return np.concatenate([linear, offset[:, :, None]], axis=2)


def _source_pixels(
    matrices: np.ndarray, h: int, w: int, pad: int, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where ``affine`` reads each output pixel from, in an (H + 2 pad, W + 2 pad) padded plane.

    Returns the row-major index of the top-left neighbour ``(r0, c0)`` within one padded image,
    and the fractions ``fr = r - r0``, ``fc = c - c0`` in ``dtype``; each (N, H*W). Points far
    outside are clipped to where both neighbours in that direction lie in the padding.
    """
    n = matrices.shape[0]
    cy, cx = (h - 1) / 2, (w - 1) / 2
    rows = np.arange(h)[:, None] - cy  # (H, 1)
    cols = np.arange(w)[None, :] - cx  # (1, W)
    a = matrices[:, :, :, None, None]  # (N, 2, 3, 1, 1)
    r = (a[:, 0, 0] * rows + a[:, 0, 1] * cols + (a[:, 0, 2] + cy)).reshape(n, h * w)
    c = (a[:, 1, 0] * rows + a[:, 1, 1] * cols + (a[:, 1, 2] + cx)).reshape(n, h * w)
    r0, c0 = np.floor(r), np.floor(c)
    fr, fc = (r - r0).astype(dtype), (c - c0).astype(dtype)
    r0 = np.clip(r0, -pad, h + pad - 2).astype(np.intp) + pad
    c0 = np.clip(c0, -pad, w + pad - 2).astype(np.intp) + pad
    return r0 * (w + 2 * pad) + c0, fr, fc


def affine(x: np.ndarray, matrices: npt.ArrayLike) -> np.ndarray:
    """Warp each image with its own affine map, by bilinear sampling, zero outside.

    ``matrices[n] = [A | t]`` maps an output pixel ``p = (i - cy, j - cx)``, relative to the
    centre ``(cy, cx) = ((H - 1) / 2, (W - 1) / 2)``, to the point it is read from,
    ``q = A p + t`` (also relative to the centre): these are *inverse* matrices, as
    ``affine_matrices`` builds. With ``(r, c) = q + (cy, cx)``, ``r0 = floor(r)``,
    ``fr = r - r0`` (same for columns), the value is interpolated from four neighbours,

        top    = x[r0, c0]     + fc (x[r0, c0 + 1]     - x[r0, c0])
        bottom = x[r0 + 1, c0] + fc (x[r0 + 1, c0 + 1] - x[r0 + 1, c0])
        y      = top + fr (bottom - top)

    where neighbours outside the image count as 0. With ``A = I`` and ``t = 0`` it returns
    ``x`` exactly.

    Args:
        x: images, (N, C, H, W).
        matrices: (N, 2, 3), in (row, col) order.
    """
    _check_batch(x)
    n, ch, h, w = x.shape
    matrices = np.asarray(matrices, dtype=np.float64)
    if matrices.shape != (n, 2, 3):
        raise ValueError(f"matrices must have shape ({n}, 2, 3), got {matrices.shape}")
    # A border of 2 zeros lets every neighbour be read without a mask. Channels go first so
    # that each channel of the whole batch is one flat plane to gather from.
    pad = 2
    padded = np.pad(x.transpose(1, 0, 2, 3), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    hp, wp = h + 2 * pad, w + 2 * pad
    index, fr, fc = _source_pixels(matrices, h, w, pad, x.dtype)  # (N, H*W) each
    index += np.arange(n)[:, None] * (hp * wp)  # into the plane of the whole batch

    out = np.empty((n, ch, h * w), dtype=x.dtype)
    for c, plane in enumerate(padded.reshape(ch, n * hp * wp)):
        x00, x01 = plane[index], plane[index + 1]  # (N, H*W) each
        x10, x11 = plane[index + wp], plane[index + wp + 1]
        top = x00 + fc * (x01 - x00)
        bottom = x10 + fc * (x11 - x10)
        out[:, c] = top + fr * (bottom - top)
    return out.reshape(x.shape)


def random_affine(
    x: np.ndarray,
    rng: np.random.Generator,
    max_rotation: float = 10.0,
    scale: tuple[float, float] = (0.9, 1.1),
    max_shift: float = 0.0,
) -> np.ndarray:
    """Rotate, scale and shift each image about its centre by its own random amounts.

    Per image: angle ~ U(-max_rotation, max_rotation) degrees, magnification ~ U(*scale), and a
    shift (dy, dx) with each part ~ U(-max_shift, max_shift) in *pixels* (not a fraction of the
    size; fractional pixels are fine). Bilinear sampling, zero fill; see ``affine``.
    """
    _check_batch(x)
    n = x.shape[0]
    angles = rng.uniform(-max_rotation, max_rotation, size=n)
    scales = rng.uniform(scale[0], scale[1], size=n)
    shifts = rng.uniform(-max_shift, max_shift, size=(n, 2))
    return affine(x, affine_matrices(angles, scales, shifts))


def random_brightness_contrast(
    x: np.ndarray,
    rng: np.random.Generator,
    brightness: float = 0.1,
    contrast: float = 0.1,
    clip: bool | None = None,
) -> np.ndarray:
    """Scale each image's contrast about its mean and add a brightness offset.

    ``y[n] = (x[n] - μ[n]) g[n] + μ[n] + b[n]`` with ``μ[n]`` the mean of image ``n`` over
    (C, H, W), ``g ~ U(1 - contrast, 1 + contrast)`` and ``b ~ U(-brightness, brightness)``.
    ``clip=True`` clips the result to [0, 1], ``clip=False`` never clips (standardised inputs,
    whose values have no fixed range), and ``clip=None`` clips only if every value of ``x``
    lies in [0, 1].
    """
    _check_batch(x)
    n = x.shape[0]
    gain = rng.uniform(1 - contrast, 1 + contrast, size=(n, 1, 1, 1)).astype(x.dtype)
    bias = rng.uniform(-brightness, brightness, size=(n, 1, 1, 1)).astype(x.dtype)
    mean = x.mean(axis=(1, 2, 3), keepdims=True)  # (N, 1, 1, 1)
    y = (x - mean) * gain + (mean + bias)
    if clip is None:
        clip = bool(x.size and x.min() >= 0 and x.max() <= 1)
    if clip:
        np.clip(y, 0, 1, out=y)
    return y
