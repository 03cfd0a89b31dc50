"""Slow, obviously correct loop versions of convolution and pooling, forward and backward.

Each function loops over every sample, channel and output pixel, exactly as the formula in
its docstring reads, in float64. They are the reference the fast kernels (im2col, window
views) are held to in the tests, the "naive loops" of the benchmark and the code the notebook
shows; nothing in the library's training path calls them.

Arrays are NCHW: ``x`` is (N, C, H, W). ``stride`` is an int or (sh, sw); ``padding`` is an
int or (top, bottom, left, right), as a layer's ``pads``. Along each axis the output size is
``(H + top + bottom - kh) // sh + 1``: windows that do not fit are dropped.
"""

from __future__ import annotations

import numpy as np

Pair = int | tuple[int, int]
Padding = int | tuple[int, int, int, int]


def conv2d(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: Pair = 1,
    padding: Padding = 0,
) -> np.ndarray:
    """Convolution (cross-correlation, as every deep-learning library):
    x (N, C, H, W), weight (O, C, kh, kw), bias (O,) or None -> (N, O, Ho, Wo), with xp the
    zero-padded input,

        out[n, o, i, j] = bias[o] + sum over c, u, v of
                          w[o, c, u, v] * xp[n, c, i*sh + u, j*sw + v]
    """
    sh, sw = _pair(stride)  # an int s means (s, s)
    xp = _pad(x, padding, 0.0)  # zeros around every image: (N, C, Hp, Wp), in float64
    n, _, hp, wp = xp.shape
    out_channels, _, kh, kw = weight.shape
    ho, wo = (hp - kh) // sh + 1, (wp - kw) // sw + 1
    out = np.zeros((n, out_channels, ho, wo))
    for b in range(n):
        for o in range(out_channels):
            for i in range(ho):
                for j in range(wo):
                    window = xp[b, :, i * sh : i * sh + kh, j * sw : j * sw + kw]  # (C, kh, kw)
                    out[b, o, i, j] = np.sum(window * weight[o])
                    if bias is not None:
                        out[b, o, i, j] += bias[o]
    return out


def conv2d_backward(
    x: np.ndarray,
    weight: np.ndarray,
    dout: np.ndarray,
    stride: Pair = 1,
    padding: Padding = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dx, dweight, dbias) of :func:`conv2d` for the upstream gradient dout (N, O, Ho, Wo):
    each output's gradient goes back through the window that made it,

        dxp[n, :, window(i, j)] += w[o] * dout[n, o, i, j]
        dw[o]                   += xp[n, :, window(i, j)] * dout[n, o, i, j]
        db[o]                    = sum over n, i, j of dout[n, o, i, j]

    and dx is dxp without its padding: shapes (N, C, H, W), (O, C, kh, kw), (O,).
    """
    sh, sw = _pair(stride)
    xp = _pad(x, padding, 0.0)
    dxp = np.zeros(xp.shape)
    dweight = np.zeros(weight.shape)
    n, out_channels, ho, wo = dout.shape
    kh, kw = weight.shape[2:]
    for b in range(n):
        for o in range(out_channels):
            for i in range(ho):
                for j in range(wo):
                    rows, cols = slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw)
                    dxp[b, :, rows, cols] += weight[o] * dout[b, o, i, j]
                    dweight[o] += xp[b, :, rows, cols] * dout[b, o, i, j]
    dbias = np.asarray(dout, dtype=np.float64).sum(axis=(0, 2, 3))
    return _unpad(dxp, padding), dweight, dbias


def max_pool2d(
    x: np.ndarray, kernel: Pair, stride: Pair | None = None, padding: Padding = 0
) -> np.ndarray:
    """Max pooling, x (N, C, H, W) -> (N, C, Ho, Wo); the padding is -inf and ``stride``
    defaults to the kernel:

        out[n, c, i, j] = max over u, v of xp[n, c, i*sh + u, j*sw + v]
    """
    (kh, kw), (sh, sw) = _pair(kernel), _pair(kernel if stride is None else stride)
    xp = _pad(x, padding, -np.inf)
    n, c, hp, wp = xp.shape
    out = np.zeros((n, c, (hp - kh) // sh + 1, (wp - kw) // sw + 1))
    for b, ch, i, j in np.ndindex(out.shape):
        out[b, ch, i, j] = xp[b, ch, i * sh : i * sh + kh, j * sw : j * sw + kw].max()
    return out


def max_pool2d_backward(
    x: np.ndarray,
    dout: np.ndarray,
    kernel: Pair,
    stride: Pair | None = None,
    padding: Padding = 0,
) -> np.ndarray:
    """dx (N, C, H, W) of :func:`max_pool2d`: each output's whole gradient goes to the input
    that won its window (the first maximum on ties, as PyTorch); the others get nothing."""
    (kh, kw), (sh, sw) = _pair(kernel), _pair(kernel if stride is None else stride)
    xp = _pad(x, padding, -np.inf)
    dxp = np.zeros(xp.shape)
    for (b, ch, i, j), grad in np.ndenumerate(dout):
        window = xp[b, ch, i * sh : i * sh + kh, j * sw : j * sw + kw]
        u, v = np.unravel_index(np.argmax(window), window.shape)  # argmax: the first maximum
        dxp[b, ch, i * sh + u, j * sw + v] += grad
    return _unpad(dxp, padding)


def avg_pool2d(
    x: np.ndarray, kernel: Pair, stride: Pair | None = None, padding: Padding = 0
) -> np.ndarray:
    """Average pooling, x (N, C, H, W) -> (N, C, Ho, Wo); the zero padding counts in the mean
    (PyTorch's ``count_include_pad=True``) and ``stride`` defaults to the kernel:

        out[n, c, i, j] = (1 / (kh kw)) * sum over u, v of xp[n, c, i*sh + u, j*sw + v]
    """
    (kh, kw), (sh, sw) = _pair(kernel), _pair(kernel if stride is None else stride)
    xp = _pad(x, padding, 0.0)
    n, c, hp, wp = xp.shape
    out = np.zeros((n, c, (hp - kh) // sh + 1, (wp - kw) // sw + 1))
    for b, ch, i, j in np.ndindex(out.shape):
        out[b, ch, i, j] = xp[b, ch, i * sh : i * sh + kh, j * sw : j * sw + kw].mean()
    return out


def avg_pool2d_backward(
    x: np.ndarray,
    dout: np.ndarray,
    kernel: Pair,
    stride: Pair | None = None,
    padding: Padding = 0,
) -> np.ndarray:
    """dx (N, C, H, W) of :func:`avg_pool2d`: every input of a window gets an equal share,
    ``dout[n, c, i, j] / (kh kw)``, added up where windows overlap."""
    (kh, kw), (sh, sw) = _pair(kernel), _pair(kernel if stride is None else stride)
    dxp = np.zeros(_pad(x, padding, 0.0).shape)
    for (b, ch, i, j), grad in np.ndenumerate(dout):
        dxp[b, ch, i * sh : i * sh + kh, j * sw : j * sw + kw] += grad / (kh * kw)
    return _unpad(dxp, padding)


def _pair(value: Pair) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (value[0], value[1])


def _pads(padding: Padding) -> tuple[int, int, int, int]:
    """(top, bottom, left, right)."""
    return (padding,) * 4 if isinstance(padding, int) else padding


def _pad(x: np.ndarray, padding: Padding, value: float) -> np.ndarray:
    """x (N, C, H, W) in float64 with ``value`` around it: (N, C, H + top + bottom, ...)."""
    top, bottom, left, right = _pads(padding)
    widths = ((0, 0), (0, 0), (top, bottom), (left, right))
    return np.pad(np.asarray(x, dtype=np.float64), widths, constant_values=value)


def _unpad(xp: np.ndarray, padding: Padding) -> np.ndarray:
    """The inverse of :func:`_pad`: the (N, C, H, W) inside of a padded array."""
    top, bottom, left, right = _pads(padding)
    return xp[:, :, top : xp.shape[2] - bottom, left : xp.shape[3] - right]
