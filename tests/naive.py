"""Slow, obviously correct loop implementations that the fast kernels are held to.

They loop over every sample, channel and output pixel, exactly as the formulas read; they live
in the tests only.
"""

from __future__ import annotations

import numpy as np


def _pad(x: np.ndarray, pads: tuple[int, int, int, int], value: float) -> np.ndarray:
    top, bottom, left, right = pads
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=value)


def conv2d(x, weight, bias, stride, pads):
    """out[n, o, i, j] = sum over c, u, v of xp[n, c, i*sh + u, j*sw + v] * w[o, c, u, v] + b[o]."""
    xp = _pad(x, pads, 0.0)
    n, _, hp, wp = xp.shape
    o, _, kh, kw = weight.shape
    sh, sw = stride
    ho, wo = (hp - kh) // sh + 1, (wp - kw) // sw + 1
    out = np.zeros((n, o, ho, wo), dtype=np.float64)
    for b in range(n):
        for f in range(o):
            for i in range(ho):
                for j in range(wo):
                    patch = xp[b, :, i * sh : i * sh + kh, j * sw : j * sw + kw]
                    out[b, f, i, j] = np.sum(patch * weight[f]) + (
                        bias[f] if bias is not None else 0
                    )
    return out


def conv2d_backward(x, weight, dout, stride, pads):
    """(dx, dweight, dbias) by sending each output's gradient back through its window."""
    xp = _pad(x, pads, 0.0)
    dxp = np.zeros_like(xp, dtype=np.float64)
    dweight = np.zeros_like(weight, dtype=np.float64)
    n, o, ho, wo = dout.shape
    kh, kw = weight.shape[2:]
    sh, sw = stride
    for b in range(n):
        for f in range(o):
            for i in range(ho):
                for j in range(wo):
                    rows, cols = slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw)
                    dxp[b, :, rows, cols] += weight[f] * dout[b, f, i, j]
                    dweight[f] += xp[b, :, rows, cols] * dout[b, f, i, j]
    top, bottom, left, right = pads
    dx = dxp[:, :, top : xp.shape[2] - bottom, left : xp.shape[3] - right]
    return dx, dweight, dout.sum(axis=(0, 2, 3))


def pool2d(x, kernel, stride, padding, mode):
    """(out, dx_for(dout)) of max or average pooling, window by window."""
    kh, kw = kernel
    sh, sw = stride
    pads = (padding[0], padding[0], padding[1], padding[1])
    xp = _pad(x, pads, -np.inf if mode == "max" else 0.0)
    n, c, hp, wp = xp.shape
    ho, wo = (hp - kh) // sh + 1, (wp - kw) // sw + 1
    out = np.zeros((n, c, ho, wo))
    winners = {}
    for b in range(n):
        for ch in range(c):
            for i in range(ho):
                for j in range(wo):
                    patch = xp[b, ch, i * sh : i * sh + kh, j * sw : j * sw + kw]
                    if mode == "max":
                        out[b, ch, i, j] = patch.max()
                        winners[b, ch, i, j] = np.unravel_index(np.argmax(patch), patch.shape)
                    else:
                        out[b, ch, i, j] = patch.mean()

    def backward(dout):
        dxp = np.zeros_like(xp, dtype=np.float64)
        for (b, ch, i, j), g in np.ndenumerate(dout):
            if mode == "max":
                u, v = winners[b, ch, i, j]
                dxp[b, ch, i * sh + u, j * sw + v] += g
            else:
                dxp[b, ch, i * sh : i * sh + kh, j * sw : j * sw + kw] += g / (kh * kw)
        return dxp[:, :, pads[0] : hp - pads[1], pads[2] : wp - pads[3]]

    return out, backward
