"""The fast kernels behind Conv2D and the pooling layers: small pure functions on NCHW arrays.

The one idea that makes a NumPy CNN fast is to loop over the *kernel offsets* (kh * kw
iterations, each a strided slice of the whole batch) and never over output pixels:

    window(x, i, j)[n, c, y, x'] == x[n, c, i + y * sh, j + x' * sw]

is the input pixel that kernel offset (i, j) sees at output position (y, x'). Stacking the
windows of every offset gives the im2col matrix, and a convolution becomes one matrix product.
"""

from __future__ import annotations

import numpy as np

Pads = tuple[int, int, int, int]  # (top, bottom, left, right)


def output_size(size: int, kernel: int, stride: int, pad_before: int, pad_after: int) -> int:
    """Output length along one axis: ``floor((size + pads - kernel) / stride) + 1``."""
    return (size + pad_before + pad_after - kernel) // stride + 1


def pad(x: np.ndarray, pads: Pads, value: float = 0.0) -> np.ndarray:
    """Pad the two spatial axes of ``x`` (N, C, H, W); returns ``x`` itself when no padding."""
    top, bottom, left, right = pads
    if not any(pads):
        return x
    n, c, h, w = x.shape
    out = np.full((n, c, h + top + bottom, w + left + right), value, dtype=x.dtype)
    out[:, :, top : top + h, left : left + w] = x
    return out


def window(
    xp: np.ndarray, i: int, j: int, stride: tuple[int, int], out_hw: tuple[int, int]
) -> np.ndarray:
    """The strided view of ``xp`` (N, C, Hp, Wp) seen by kernel offset (i, j): (N, C, Ho, Wo)."""
    (sh, sw), (ho, wo) = stride, out_hw
    return xp[:, :, i : i + sh * (ho - 1) + 1 : sh, j : j + sw * (wo - 1) + 1 : sw]


def im2col(
    xp: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], out_hw: tuple[int, int]
) -> np.ndarray:
    """Unfold the padded input into columns, channel-major.

    xp (N, C, Hp, Wp) -> cols (C * kh * kw, N * Ho * Wo), with row ``(c * kh + i) * kw + j``
    holding channel c at kernel offset (i, j), so ``weight.reshape(out, -1) @ cols`` is the
    convolution (``weight`` in PyTorch's (out, in, kh, kw) order).
    """
    n, c = xp.shape[:2]
    (kh, kw), (ho, wo) = kernel, out_hw
    cols = np.empty((c, kh, kw, n, ho, wo), dtype=xp.dtype)
    for i in range(kh):
        for j in range(kw):
            # (N, C, Ho, Wo) -> (C, N, Ho, Wo)
            cols[:, i, j] = window(xp, i, j, stride, out_hw).transpose(1, 0, 2, 3)
    return cols.reshape(c * kh * kw, n * ho * wo)


def col2im(
    cols: np.ndarray,
    padded_shape: tuple[int, int, int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    out_hw: tuple[int, int],
) -> np.ndarray:
    """The adjoint of :func:`im2col`: add every column entry back onto the pixel it came from.

    cols (C * kh * kw, N * Ho * Wo) -> (N, C, Hp, Wp). Overlapping windows add up, which is
    exactly the chain rule for a pixel that several output positions read.
    """
    n, c, hp, wp = padded_shape
    (kh, kw), (ho, wo) = kernel, out_hw
    cols = cols.reshape(c, kh, kw, n, ho, wo)
    xp = np.zeros((c, n, hp, wp), dtype=cols.dtype)  # channel-major: each add moves whole rows
    for i in range(kh):
        for j in range(kw):
            window(xp, i, j, stride, out_hw)[...] += cols[:, i, j]
    return xp.transpose(1, 0, 2, 3)


def unpad(xp: np.ndarray, pads: Pads) -> np.ndarray:
    """Drop the padding that :func:`pad` added: (N, C, Hp, Wp) -> (N, C, H, W), a view."""
    top, bottom, left, right = pads
    return xp[:, :, top : xp.shape[2] - bottom, left : xp.shape[3] - right]
