"""The fast kernels behind Conv2D and the pooling layers: small pure functions.

Windows. The one idea that makes a NumPy CNN fast is to loop over the *kernel offsets* (kh * kw
iterations, each a strided slice of the whole batch) and never over output pixels:

    window(x, i, j)[c, y, x', n] == x[c, i + y * sh, j + x' * sw, n]

is the input pixel that kernel offset (i, j) sees at output position (y, x'). Stacking the
windows of every offset gives the im2col matrix, and a convolution becomes one matrix product.

Layout. The layers take and return NCHW arrays, as PyTorch does, but these kernels work on
*batch-last* arrays, (C, H, W, N), and the layers keep their activations that way in memory,
handing them on as NCHW views (:func:`to_nchw`). In a batch-last array one row of a window is
``Wo * N`` neighbouring numbers (``N`` for a strided window), so every copy and add below moves
long contiguous runs instead of rows of a few pixels; and the matrix product's output
(C_out, Ho * Wo * N) already is the next layer's batch-last input.
"""

from __future__ import annotations

import numpy as np

Pads = tuple[int, int, int, int]  # (top, bottom, left, right)
BLOCK_BYTES = 4 << 20  # the im2col columns :func:`convolve` unfolds at a time: L2 holds them


def to_chwn(x: np.ndarray) -> np.ndarray:
    """(N, C, H, W) -> the batch-last view (C, H, W, N) of the same numbers (no copy)."""
    return x.transpose(1, 2, 3, 0)


def to_nchw(x: np.ndarray) -> np.ndarray:
    """(C, H, W, N) -> the NCHW view (N, C, H, W) of the same numbers (no copy)."""
    return x.transpose(3, 0, 1, 2)


def output_size(size: int, kernel: int, stride: int, pad_before: int, pad_after: int) -> int:
    """Output length along one axis: ``floor((size + pads - kernel) / stride) + 1``."""
    return (size + pad_before + pad_after - kernel) // stride + 1


def pad(x: np.ndarray, pads: Pads, value: float = 0.0) -> np.ndarray:
    """Pad the spatial axes of a batch-last ``x`` (C, H, W, N) with ``value``; a negative pad
    crops that many rows or columns from its side instead.

    The result is always C-contiguous: ``x`` itself when it already is and needs no padding,
    otherwise a new array (the copy that turns an NCHW batch batch-last).
    """
    top, bottom, left, right = (max(-p, 0) for p in pads)  # the crops
    x = x[:, top : x.shape[1] - bottom, left : x.shape[2] - right]
    top, bottom, left, right = (max(p, 0) for p in pads)
    if not (top or bottom or left or right):
        return np.ascontiguousarray(x)
    c, h, w, n = x.shape
    out = np.empty((c, h + top + bottom, w + left + right, n), dtype=x.dtype)
    out[:, :top], out[:, top + h :] = value, value
    out[:, :, :left], out[:, :, left + w :] = value, value
    out[:, top : top + h, left : left + w] = x
    return out


def unpad(xp: np.ndarray, pads: Pads) -> np.ndarray:
    """Drop the padding that :func:`pad` added: (C, Hp, Wp, N) -> (C, H, W, N), a view."""
    top, bottom, left, right = pads
    return xp[:, top : xp.shape[1] - bottom, left : xp.shape[2] - right]


def window(
    xp: np.ndarray, i: int, j: int, stride: tuple[int, int], out_hw: tuple[int, int]
) -> np.ndarray:
    """The strided view of ``xp`` (C, Hp, Wp, N) seen by kernel offset (i, j): (C, Ho, Wo, N)."""
    (sh, sw), (ho, wo) = stride, out_hw
    return xp[:, i : i + sh * (ho - 1) + 1 : sh, j : j + sw * (wo - 1) + 1 : sw]


def im2col(
    xp: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    out_hw: tuple[int, int],
    reuse: np.ndarray | None = None,
    rows: tuple[int, int] | None = None,
) -> np.ndarray:
    """Unfold the padded batch-last input into columns.

    xp (C, Hp, Wp, N) -> cols (C * kh * kw, Ho * Wo * N), with row ``(c * kh + i) * kw + j``
    holding channel c at kernel offset (i, j), so ``weight.reshape(out, -1) @ cols`` is the
    convolution (``weight`` in PyTorch's (out, in, kh, kw) order), batch-last.
    ``rows=(y0, y1)`` unfolds only the output rows y0 to y1 - 1: the columns
    ``y0 * Wo * N`` to ``y1 * Wo * N`` of the whole matrix (see :func:`convolve`).
    The columns are written into the start of ``reuse`` when it is an array of the dtype with
    that many rows and at least that many columns that nothing needs any more (a fresh array
    of megabytes costs a page fault per 4 KiB).
    """
    c, n = xp.shape[0], xp.shape[3]
    (kh, kw), (sh, _), (ho, wo) = kernel, stride, out_hw
    y0, y1 = rows or (0, ho)
    shape = (c * kh * kw, (y1 - y0) * wo * n)
    if (
        reuse is None
        or reuse.dtype != xp.dtype
        or reuse.shape[0] != shape[0]
        or reuse.shape[1] < shape[1]
    ):
        reuse = np.empty(shape, dtype=xp.dtype)
    cols = reuse[:, : shape[1]]
    unfolded = cols.reshape(c, kh, kw, y1 - y0, wo, n)
    for i in range(kh):
        for j in range(kw):
            unfolded[:, i, j] = window(xp, i + sh * y0, j, stride, (y1 - y0, wo))
    return cols


def convolve(
    xp: np.ndarray,
    weight2: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    out_hw: tuple[int, int],
    scratch: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """``weight2 @ im2col(xp)`` without the whole im2col matrix: the convolution of a padded
    batch-last ``xp`` (C, Hp, Wp, N) with ``weight2`` (O, C * kh * kw), (O, Ho * Wo * N).

    The output rows go in blocks whose columns take about ``BLOCK_BYTES`` (one row at least):
    each block is unfolded into ``scratch`` and multiplied while it is still in the core's
    cache, instead of writing the whole matrix (nine times the input for a 3x3 kernel) to
    memory and reading it back. Inference's path: training keeps the whole matrix for dW.
    Returns the output and the scratch buffer, for the next call (the one given, unused,
    when one block is the whole matrix).
    """
    n, (ho, wo) = xp.shape[3], out_hw
    row_columns = wo * n  # the columns of one output row
    rows = max(1, BLOCK_BYTES // max(1, weight2.shape[1] * row_columns * xp.itemsize))
    if rows >= ho:  # one block: the whole matrix, in a fresh array (a small one is cheap)
        return weight2 @ im2col(xp, kernel, stride, out_hw), scratch
    size = weight2.shape[1] * rows * row_columns
    if scratch is None or scratch.dtype != xp.dtype or scratch.size < size:
        scratch = np.empty(size, dtype=xp.dtype)
    cols = scratch[:size].reshape(weight2.shape[1], -1)
    out = np.empty((weight2.shape[0], ho * row_columns), dtype=xp.dtype)
    for y0 in range(0, ho, rows):
        y1 = min(y0 + rows, ho)
        block = im2col(xp, kernel, stride, out_hw, cols, (y0, y1))
        np.matmul(weight2, block, out=out[:, y0 * row_columns : y1 * row_columns])
    return out, scratch


def col2im(
    cols: np.ndarray,
    padded_shape: tuple[int, int, int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    out_hw: tuple[int, int],
) -> np.ndarray:
    """The adjoint of :func:`im2col`: add every column entry back onto the pixel it came from.

    cols (C * kh * kw, Ho * Wo * N) -> (C, Hp, Wp, N). Overlapping windows add up, which is
    exactly the chain rule for a pixel that several output positions read.
    """
    c, n = padded_shape[0], padded_shape[3]
    (kh, kw), (ho, wo) = kernel, out_hw
    cols = cols.reshape(c, kh, kw, ho, wo, n)
    xp = np.zeros(padded_shape, dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            window(xp, i, j, stride, out_hw)[...] += cols[:, i, j]
    return xp
