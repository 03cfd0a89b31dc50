"""Max and average pooling over kh x kw windows, by looping over the window offsets.

Max pooling: out = max over offsets k of window_k(x). Backward, the whole gradient of each
output goes to the one input that won its window (the first maximum on ties, as PyTorch):

    dx[window_k] += dout * (argmax == k)

(argmax is the last offset that beat the running maximum; windows that do not overlap are
written, not added.) Inference skips the argmax. Arrays are batch-last inside, see
:mod:`nanocnn.kernels`; masks are multiplied in, never selected with ``np.where``, which
branches on every element and runs ten times slower.

Average pooling: out = mean over offsets of window_k(x) (zero padding counts in the mean,
PyTorch's default ``count_include_pad=True``). Backward, every input of a window gets an equal
share: ``dx[window_k] += dout / (kh * kw)``.

Windows may overlap (stride < kernel) or leave a remainder (sizes that do not tile); both work.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nanocnn.errors import InputShapeError
from nanocnn.kernels import Pads, output_size, pad, to_chwn, to_nchw, unpad, window
from nanocnn.layers.base import Layer, as_pair
from nanocnn.layers.registry import register_layer


class _Pool2D(Layer):
    """What both pools share: arguments, output size, padding."""

    windowed = True

    pad_value = 0.0

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
    ) -> None:
        super().__init__()
        self.kernel_size = as_pair(kernel_size, "kernel_size", minimum=1)
        self.stride = self.kernel_size if stride is None else as_pair(stride, "stride", 1)
        self.pads: Pads = pool_pads(padding, self.kernel_size)
        self._cache: tuple | None = None

    def config(self) -> dict[str, Any]:
        return {
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "padding": [self.pads[0], self.pads[2]],
        }

    def _padded(self, x: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
        """The padded batch-last input (C, Hp, Wp, N) and the output size (Ho, Wo)."""
        self._check_input(x, ndim=4)
        top, bottom, left, right = self.pads
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        out_hw = (
            output_size(x.shape[2], kh, sh, top, bottom),
            output_size(x.shape[3], kw, sw, left, right),
        )
        if min(out_hw) < 1:
            raise InputShapeError(
                f"{self!r}: input of spatial size {x.shape[2]}x{x.shape[3]} is smaller than "
                f"the window {kh}x{kw}"
            )
        return pad(to_chwn(x), self.pads, self.pad_value), out_hw

    def _offsets(self) -> list[tuple[int, int]]:
        return [(i, j) for i in range(self.kernel_size[0]) for j in range(self.kernel_size[1])]

    def _disjoint(self) -> bool:
        """Whether the windows never overlap (stride >= kernel), so backward can write each
        window's share instead of adding it."""
        return all(s >= k for s, k in zip(self.stride, self.kernel_size, strict=True))

    def _tiles(self, padded_shape: tuple[int, ...], out_hw: tuple[int, int]) -> bool:
        """Whether the windows cover the padded input exactly once (no gaps, no remainder),
        so backward writes every pixel and needs no zeroed array."""
        (kh, kw), (ho, wo) = self.kernel_size, out_hw
        return self.stride == self.kernel_size and padded_shape[1:3] == (ho * kh, wo * kw)


def pool_pads(padding: Any, kernel: tuple[int, int]) -> Pads:
    """The pooling layers' rule for ``padding``: a non-negative int or pair of ints, each at
    most half its kernel side (PyTorch's rule). Returns (top, bottom, left, right) pads;
    ValueError naming ``padding``."""
    ph, pw = as_pair(padding, "padding")
    if ph > kernel[0] // 2 or pw > kernel[1] // 2:
        raise ValueError(f"padding must be at most half the kernel size {kernel}, got {padding!r}")
    return (ph, ph, pw, pw)


@register_layer
class MaxPool2D(_Pool2D):
    """``MaxPool2D(kernel_size, stride=None, padding=0)``: (N, C, H, W) -> (N, C, Ho, Wo).

    ``stride`` defaults to ``kernel_size``; padding (at most half the kernel) is -inf.
    """

    pad_value = -np.inf

    def forward(self, x: np.ndarray, training: bool = False, keep: bool = False) -> np.ndarray:
        xp, out_hw = self._padded(x)
        offsets = self._offsets()
        out = window(xp, *offsets[0], self.stride, out_hw).copy()  # (C, Ho, Wo, N)
        dtype = np.uint8 if len(offsets) < 256 else np.int32
        kept = training or keep  # inference without backward needs no argmax
        argmax = np.zeros(out.shape, dtype=dtype) if kept else None
        for k, (i, j) in enumerate(offsets[1:], start=1):
            candidate = window(xp, i, j, self.stride, out_hw)
            if argmax is not None:
                # k grows, so the last offset that beat the running maximum wins
                better = np.greater(candidate, out).view(np.uint8)  # 0 or 1, no copy
                better *= k
                np.maximum(argmax, better, out=argmax)
            np.maximum(out, candidate, out=out)
        self._cache = (argmax, xp.shape, out_hw) if argmax is not None else None
        return to_nchw(out)

    def backward(self, dout: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        if self._cache is None:
            raise self._missing_cache()
        if not input_grad:
            return None
        argmax, padded_shape, out_hw = self._cache
        dout = np.ascontiguousarray(to_chwn(dout))  # (C, Ho, Wo, N)
        tiled = self._tiles(padded_shape, out_hw)  # every pixel in exactly one window
        dxp = (np.empty if tiled else np.zeros)(padded_shape, dtype=dout.dtype)
        for k, (i, j) in enumerate(self._offsets()):
            target = window(dxp, i, j, self.stride, out_hw)
            if self._disjoint():
                np.multiply(dout, argmax == k, out=target)
            else:
                target += dout * (argmax == k)
        return to_nchw(unpad(dxp, self.pads))


@register_layer
class AvgPool2D(_Pool2D):
    """``AvgPool2D(kernel_size, stride=None, padding=0)``: (N, C, H, W) -> (N, C, Ho, Wo).

    ``stride`` defaults to ``kernel_size``; zero padding counts in the mean (as PyTorch).
    """

    def forward(self, x: np.ndarray, training: bool = False, keep: bool = False) -> np.ndarray:
        xp, out_hw = self._padded(x)
        offsets = self._offsets()
        out = window(xp, *offsets[0], self.stride, out_hw).copy()  # (C, Ho, Wo, N)
        for i, j in offsets[1:]:
            out += window(xp, i, j, self.stride, out_hw)
        out *= 1.0 / len(offsets)
        self._cache = (xp.shape, out_hw) if training or keep else None
        return to_nchw(out)

    def backward(self, dout: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        if self._cache is None:
            raise self._missing_cache()
        if not input_grad:
            return None
        padded_shape, out_hw = self._cache
        share = to_chwn(dout) * (1.0 / len(self._offsets()))  # (C, Ho, Wo, N)
        dxp = np.zeros(padded_shape, dtype=dout.dtype)
        for i, j in self._offsets():
            target = window(dxp, i, j, self.stride, out_hw)
            if self._disjoint():
                target[...] = share
            else:
                target += share
        return to_nchw(unpad(dxp, self.pads))


@register_layer
class GlobalAvgPool2D(Layer):
    """``GlobalAvgPool2D()``: (N, C, H, W) -> (N, C), the mean of each channel's map.

    out[n, c] = mean over (h, w) of x[n, c, h, w]
    dx[n, c, h, w] = dout[n, c] / (H W)

    (PyTorch's ``nn.AdaptiveAvgPool2d(1)`` followed by ``nn.Flatten()``; ONNX's
    ``GlobalAveragePool`` and ``Flatten``.) The input gradient is a read-only broadcast view
    of the (N, C) gradient: no (N, C, H, W) array is written.
    """

    def __init__(self) -> None:
        super().__init__()
        self._shape: tuple[int, ...] | None = None

    def forward(self, x: np.ndarray, training: bool = False, keep: bool = False) -> np.ndarray:
        self._check_input(x, ndim=4)
        self._shape = x.shape if training or keep else None
        return x.mean(axis=(2, 3))

    def backward(self, dout: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        if self._shape is None:
            raise self._missing_cache()
        if not input_grad:
            return None
        n, c, h, w = self._shape
        share = dout * (1.0 / (h * w))  # (N, C)
        return np.broadcast_to(share[:, :, None, None], (n, c, h, w))
