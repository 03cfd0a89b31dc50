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
BLOCK_BYTES = 4 << 20  # the im2col columns unfolded at a time: the L2 caches hold them


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
    ``y0 * Wo * N`` to ``y1 * Wo * N`` of the whole matrix (see :func:`row_blocks`).
    The columns are written into the start of ``reuse`` when it is a 2-D array of the dtype
    with room for them that nothing needs any more (a fresh array of megabytes costs a page
    fault per 4 KiB).
    """
    c, n = xp.shape[0], xp.shape[3]
    (kh, kw), (sh, _), (ho, wo) = kernel, stride, out_hw
    y0, y1 = rows or (0, ho)
    shape = (c * kh * kw, (y1 - y0) * wo * n)
    fits = reuse is not None and reuse.dtype == xp.dtype and reuse.shape[0] == shape[0]
    if reuse is None or not fits or reuse.shape[1] < shape[1]:
        reuse = np.empty(shape, dtype=xp.dtype)
    cols = reuse[:, : shape[1]]
    unfolded = cols.reshape(c, kh, kw, y1 - y0, wo, n)
    for i in range(kh):
        for j in range(kw):
            unfolded[:, i, j] = window(xp, i + sh * y0, j, stride, (y1 - y0, wo))
    return cols


def row_blocks(out_hw: tuple[int, int], column_bytes: int) -> list[tuple[int, int]]:
    """The output rows in blocks (y0, y1) whose im2col columns take about ``BLOCK_BYTES``
    (one row at least), ``column_bytes`` being one output pixel's column of the whole batch.

    A convolution unfolds and multiplies one block of rows after the other through one small
    buffer, instead of unfolding its whole input first: the columns (nine times the input for
    a 3x3 kernel) are written and read back while they are in the core's cache, not memory,
    and the layer keeps only its padded input for backward. (ResNet-8 at 16 channels, batch
    64: a 4 MiB block is four output rows, 4 x 28 x 64 columns of 144 numbers, where the
    whole matrix takes 29 MB.) Blocks much smaller than the caches cost the BLAS threads a
    wake-up per product for little.
    """
    ho, wo = out_hw
    rows = max(1, BLOCK_BYTES // max(1, column_bytes * wo))
    return [(y0, min(y0 + rows, ho)) for y0 in range(0, ho, rows)]


def col2im(
    cols: np.ndarray,
    padded_shape: tuple[int, int, int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    out_hw: tuple[int, int],
    into: np.ndarray | None = None,
    rows: tuple[int, int] | None = None,
) -> np.ndarray:
    """The adjoint of :func:`im2col`: add every column entry back onto the pixel it came from.

    cols (C * kh * kw, Ho * Wo * N) -> (C, Hp, Wp, N). Overlapping windows add up, which is
    exactly the chain rule for a pixel that several output positions read. ``rows=(y0, y1)``:
    ``cols`` holds only those output rows (as :func:`im2col`'s); ``into``: add onto that
    array (of ``padded_shape``) rather than zeros, and return it.
    """
    c, n = padded_shape[0], padded_shape[3]
    (kh, kw), (sh, _), (ho, wo) = kernel, stride, out_hw
    y0, y1 = rows or (0, ho)
    cols = cols.reshape(c, kh, kw, y1 - y0, wo, n)
    xp = np.zeros(padded_shape, dtype=cols.dtype) if into is None else into
    for i in range(kh):
        for j in range(kw):
            window(xp, i + sh * y0, j, stride, (y1 - y0, wo))[...] += cols[:, i, j]
    return xp


def convolve(
    xp: np.ndarray,
    weight2: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    out_hw: tuple[int, int],
    scratch: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``weight2 @ im2col(xp)``, the convolution of a padded batch-last ``xp`` (C, Hp, Wp, N)
    with ``weight2`` (O, C * kh * kw): (O, Ho * Wo * N), unfolded and multiplied block of
    output rows by block (:func:`row_blocks`) in ``scratch``, a flat buffer reused when it is
    large enough. Returns the output and the buffer, for the next call."""
    n, (ho, wo) = xp.shape[3], out_hw
    blocks = row_blocks(out_hw, weight2.shape[1] * n * xp.itemsize)
    cols, scratch = _block_buffer(scratch, weight2.shape[1], blocks, wo * n, xp.dtype)
    out = np.empty((weight2.shape[0], ho * wo * n), dtype=xp.dtype)
    for y0, y1 in blocks:
        block = im2col(xp, kernel, stride, out_hw, cols, (y0, y1))
        np.matmul(weight2, block, out=out[:, y0 * wo * n : y1 * wo * n])
    return out, scratch


def convolve_weight_grad(
    xp: np.ndarray,
    dout2: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    out: np.ndarray,
    scratch: np.ndarray | None = None,
) -> np.ndarray:
    """``out[...] = dout2 @ im2col(xp).T``, the weight gradient (O, C * kh * kw) of the
    convolution of ``xp`` (C, Hp, Wp, N) given ``dout2`` (O, Ho * Wo * N): the sum over the
    blocks of output rows of each block's product, its columns unfolded again into
    ``scratch`` (returned, as by :func:`convolve`)."""
    n, wo = xp.shape[3], (xp.shape[2] - kernel[1]) // stride[1] + 1
    out_hw = (dout2.shape[1] // (wo * n), wo)
    blocks = row_blocks(out_hw, out.shape[1] * n * xp.itemsize)
    cols, scratch = _block_buffer(scratch, out.shape[1], blocks, wo * n, xp.dtype)
    # the product transposed when that puts the longer side as rows: OpenBLAS runs it up to
    # twice as fast (ResNet-8: O = 16 rows against 144)
    transposed = out.shape[1] > out.shape[0]
    part = np.empty(out.shape[::-1] if transposed else out.shape, dtype=out.dtype)
    for index, (y0, y1) in enumerate(blocks):
        block = im2col(xp, kernel, stride, out_hw, cols, (y0, y1))
        dblock = dout2[:, y0 * wo * n : y1 * wo * n]
        if transposed:
            np.matmul(block, dblock.T, out=part)
        else:
            np.matmul(dblock, block.T, out=part)
        if index:
            out += part.T if transposed else part
        else:
            out[...] = part.T if transposed else part
    return scratch


def convolve_input_grad(
    dout2: np.ndarray,
    weight2: np.ndarray,
    padded_shape: tuple[int, int, int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    scratch: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``col2im(weight2.T @ dout2)``, the gradient (C, Hp, Wp, N) of the padded input of a
    convolution given ``dout2`` (O, Ho * Wo * N), block of output rows by block: each block's
    columns of gradients are made in ``scratch`` and added onto their pixels. Returns it and
    the buffer (as :func:`convolve`)."""
    n, wo = padded_shape[3], (padded_shape[2] - kernel[1]) // stride[1] + 1
    out_hw = (dout2.shape[1] // (wo * n), wo)
    blocks = row_blocks(out_hw, weight2.shape[1] * n * dout2.itemsize)
    dcols, scratch = _block_buffer(scratch, weight2.shape[1], blocks, wo * n, dout2.dtype)
    dxp = np.zeros(padded_shape, dtype=dout2.dtype)
    for y0, y1 in blocks:
        block = dcols[:, : (y1 - y0) * wo * n]
        np.matmul(weight2.T, dout2[:, y0 * wo * n : y1 * wo * n], out=block)
        col2im(block, padded_shape, kernel, stride, out_hw, dxp, (y0, y1))
    return dxp, scratch


def _block_buffer(
    scratch: np.ndarray | None,
    rows: int,
    blocks: list[tuple[int, int]],
    row_columns: int,
    dtype: np.dtype,
) -> tuple[np.ndarray, np.ndarray]:
    """A (rows, columns of the largest block) array in ``scratch`` (a flat buffer) when it has
    room, else in a new one; and the buffer."""
    size = rows * max(y1 - y0 for y0, y1 in blocks) * row_columns
    if scratch is None or scratch.dtype != dtype or scratch.size < size:
        scratch = np.empty(size, dtype=dtype)
    return scratch[:size].reshape(rows, -1), scratch
