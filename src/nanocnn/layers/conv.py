"""2-D convolution (strictly, cross-correlation, as in every framework) by im2col + one GEMM.

Forward, with cols = im2col(x) of shape (C*kh*kw, Ho*Wo*N) (batch-last, see
:mod:`nanocnn.kernels`) and W2 = weight.reshape(O, C*kh*kw):

    out2 = W2 @ cols + b[:, None]                      (O, Ho*Wo*N) -> (N, O, Ho, Wo) view

Training keeps cols for dW; inference (``training`` and ``keep`` false) never makes the
whole matrix: :func:`nanocnn.kernels.convolve` unfolds and multiplies a cache-sized block
of output rows at a time (ResNet-8 at 64x64 RGB: 1.6x the images a second).

Backward, given dout2 = dout rearranged to (O, Ho*Wo*N) (free for a batch-last dout):

    dW2   = dout2 @ cols.T                             (O, C*kh*kw)
    db    = dout2.sum(axis=1), as dout2 @ ones         (O,)
    dcols = W2.T @ dout2                               (C*kh*kw, Ho*Wo*N)
    dx    = col2im(dcols)                              (N, C, H, W) view

col2im adds overlapping windows together, which makes dx the "full" convolution of dout
with the flipped kernel:

    dx[c, y, x] = sum over o, i, j of dout[o, y + top - i, x + left - j] * W[o, c, i, j]

(dout taken as zero outside its Ho x Wo). With stride 1 that sum is itself a convolution,
which is how the layer computes it: dout padded by kh - 1 - top rows above (and so on; a
negative pad crops), convolved with the kernel flipped in both axes and its in and out
channels swapped,

    dx2 = Wt2 @ im2col(pad(dout))                      Wt[c, o, i, j] = W[o, c, kh-1-i, kw-1-j]

one im2col and one GEMM that writes dx directly, in place of the GEMM into dcols and
col2im's kh*kw scattered adds (ResNet-8's 3x3 layers: about 2x faster). It is used where its
im2col is no larger than dcols (stride 1, out channels x input size <= in channels x output
size); strided layers, and those that widen the channels, keep col2im.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from nanocnn.errors import InputShapeError
from nanocnn.init import Init, init_weight
from nanocnn.kernels import (
    Pads,
    col2im,
    convolve,
    im2col,
    output_size,
    pad,
    to_chwn,
    to_nchw,
    unpad,
)
from nanocnn.layers.base import MAX_PADDING, Layer, as_int, as_pair, as_rng
from nanocnn.layers.registry import register_layer

Padding = int | tuple[int, int] | Literal["same", "valid"]


@register_layer
class Conv2D(Layer):
    """``Conv2D(in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True)``.

    Input (N, C_in, H, W), output (N, C_out, Ho, Wo) with
    ``Ho = floor((H + 2 * pad_h - kh) / stride_h) + 1``. ``padding="same"`` keeps H and W
    (stride 1 only; an even kernel pads one more at the bottom/right, like PyTorch);
    ``"valid"`` means no padding. Parameters as in PyTorch: ``weight`` (C_out, C_in, kh, kw),
    ``bias`` (C_out,).
    """

    transient = ("_cache", "_dout_cols", "_scratch")
    size_args = ("in_channels", "out_channels")
    windowed = True
    fresh_output = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: Padding = 0,
        bias: bool = True,
        init: Init = "he",
        rng: np.random.Generator | int | None = None,
        dtype: np.typing.DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        self.in_channels = as_int(in_channels, "in_channels", minimum=1)
        self.out_channels = as_int(out_channels, "out_channels", minimum=1)
        self.kernel_size = as_pair(kernel_size, "kernel_size", minimum=1)
        self.stride = as_pair(stride, "stride", minimum=1)
        self.padding, self.pads = conv_padding(padding, self.kernel_size, self.stride)
        self.init = str(init)
        kh, kw = self.kernel_size
        fan_in, fan_out = self.in_channels * kh * kw, self.out_channels * kh * kw
        shape = (self.out_channels, self.in_channels, kh, kw)
        self.params["weight"] = init_weight(shape, fan_in, fan_out, init, as_rng(rng), dtype)
        if bias:
            self.params["bias"] = np.zeros(self.out_channels, dtype=dtype)
        self.grads = {name: np.zeros_like(value) for name, value in self.params.items()}
        self._cache: tuple[np.ndarray, tuple[int, int, int, int], tuple[int, int]] | None = None
        self._dout_cols: np.ndarray | None = None  # the backward's own im2col buffer
        self._scratch: np.ndarray | None = None  # inference's block of columns

    def config(self) -> dict[str, Any]:
        padding = self.padding if isinstance(self.padding, str) else list(self.padding)
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "padding": padding,
            "bias": "bias" in self.params,
            "init": self.init,
        }

    def forward(self, x: np.ndarray, training: bool = False, keep: bool = False) -> np.ndarray:
        self._check_input(x, ndim=4, channels=self.in_channels)
        out_hw = _out_hw(self, x.shape)
        xp = pad(to_chwn(x), self.pads)  # (C, Hp, Wp, N)
        weight = self.params["weight"].reshape(self.out_channels, -1)
        if training or keep:  # the whole columns matrix, kept for dW
            dead = self._cache[0] if self._cache is not None else None  # the last batch's
            cols = im2col(xp, self.kernel_size, self.stride, out_hw, dead)  # (C*kh*kw, Ho*Wo*N)
            out = weight @ cols  # (O, Ho*Wo*N)
            self._cache = (cols, xp.shape, out_hw)
        else:  # inference: unfolded and multiplied a cache-sized block at a time
            out, self._scratch = convolve(
                xp, weight, self.kernel_size, self.stride, out_hw, self._scratch
            )
            self._cache = None
        if "bias" in self.params:
            out += self.params["bias"][:, None]
        # (O, Ho*Wo*N) -> (O, Ho, Wo, N) -> (N, O, Ho, Wo) view
        return to_nchw(out.reshape(self.out_channels, *out_hw, x.shape[0]))

    def backward(self, dout: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """Fill ``grads`` and return dx; ``input_grad=False`` skips dx and returns None (a
        first layer's input needs no gradient: that saves half the backward's work)."""
        if self._cache is None:
            raise self._missing_cache()
        cols, padded_shape, out_hw = self._cache
        # (N, O, Ho, Wo) -> (O, Ho*Wo*N): no copy when dout is batch-last in memory
        dout2 = to_chwn(dout).reshape(self.out_channels, -1)
        weight = self.params["weight"].reshape(self.out_channels, -1)
        dweight = self.grads["weight"].reshape(self.out_channels, -1)  # (O, C*kh*kw)
        if dweight.shape[1] > dweight.shape[0]:
            # the same product transposed: with the longer side as rows OpenBLAS runs it up
            # to twice as fast (LeNet's convolutions: O = 6 and 16 against 25 and 150)
            dweight[...] = (cols @ dout2.T).T
        else:
            np.matmul(dout2, cols.T, out=dweight)
        if "bias" in self.params:  # row sums as a matrix-vector product: 3x faster than np.sum
            np.matmul(dout2, np.ones(dout2.shape[1], dout2.dtype), out=self.grads["bias"])
        if not input_grad:
            return None
        if self._unfolds_less(padded_shape, out_hw):
            return to_nchw(self._transposed_convolution(to_chwn(dout), padded_shape))
        dcols = weight.T @ dout2  # (C*kh*kw, Ho*Wo*N)
        dxp = col2im(dcols, padded_shape, self.kernel_size, self.stride, out_hw)
        return to_nchw(unpad(dxp, self.pads))

    def _unfolds_less(self, padded_shape: tuple[int, ...], out_hw: tuple[int, int]) -> bool:
        """Whether dx is cheaper as a transposed convolution: stride 1, and its im2col of dout
        (O*kh*kw, H*W*N) no larger than the dcols that col2im would scatter (C*kh*kw,
        Ho*Wo*N). True for a layer that keeps its channels and size (ResNet's); not for one
        that widens the channels or shrinks the image (LeNet's 6 -> 16, 12x12 -> 8x8)."""
        h, w = self._input_hw(padded_shape)
        smaller = self.out_channels * h * w <= self.in_channels * out_hw[0] * out_hw[1]
        return self.stride == (1, 1) and smaller

    def _input_hw(self, padded_shape: tuple[int, ...]) -> tuple[int, int]:
        """(H, W) of the input whose padded batch-last form has ``padded_shape``."""
        top, bottom, left, right = self.pads
        return padded_shape[1] - top - bottom, padded_shape[2] - left - right

    def _transposed_convolution(
        self, dout: np.ndarray, padded_shape: tuple[int, int, int, int]
    ) -> np.ndarray:
        """dx (C, H, W, N) of a stride-1 layer from a batch-last dout (O, Ho, Wo, N): the
        convolution of dout with the flipped, transposed kernel (the module docstring)."""
        (kh, kw), (top, bottom, left, right) = self.kernel_size, self.pads
        (c, n), (h, w) = (self.in_channels, dout.shape[3]), self._input_hw(padded_shape)
        doutp = pad(dout, (kh - 1 - top, kh - 1 - bottom, kw - 1 - left, kw - 1 - right))
        cols = im2col(doutp, self.kernel_size, (1, 1), (h, w), self._dout_cols)
        self._dout_cols = cols  # (O*kh*kw, H*W*N), reused by the next step's backward
        flipped = self.params["weight"][:, :, ::-1, ::-1].transpose(1, 0, 2, 3)  # (C, O, kh, kw)
        return (flipped.reshape(c, -1) @ cols).reshape(c, h, w, n)


def conv_padding(
    padding: Any, kernel: tuple[int, int], stride: tuple[int, int]
) -> tuple[str | tuple[int, int], Pads]:
    """Conv2D's rule for ``padding``: "valid", "same" (stride 1 only) or a non-negative int or
    pair of ints, as PyTorch's (up to ``MAX_PADDING``). Returns the normalised argument (the
    string, or a pair of plain ints) and the (top, bottom, left, right) pads; ValueError
    naming ``padding``."""
    if isinstance(padding, str):
        if padding == "valid":
            return "valid", (0, 0, 0, 0)
        if padding != "same":
            raise ValueError(
                f"Conv2D padding must be an int, a pair, 'same' or 'valid', got {padding!r}"
            )
        if stride != (1, 1):
            raise ValueError(f"Conv2D padding='same' needs stride 1, got stride {stride}")
        (kh, kw) = kernel
        return "same", ((kh - 1) // 2, kh // 2, (kw - 1) // 2, kw // 2)
    ph, pw = as_pair(padding, "padding")
    if max(ph, pw) > MAX_PADDING:  # a bound for files from strangers: see MAX_PADDING
        raise ValueError(f"Conv2D padding must be at most {MAX_PADDING}, got {padding!r}")
    return (ph, pw), (ph, ph, pw, pw)


def _out_hw(layer: Conv2D, shape: tuple[int, ...]) -> tuple[int, int]:
    """(Ho, Wo) for an input of ``shape``; an InputShapeError if the kernel does not fit."""
    top, bottom, left, right = layer.pads
    (kh, kw), (sh, sw) = layer.kernel_size, layer.stride
    ho = output_size(shape[2], kh, sh, top, bottom)
    wo = output_size(shape[3], kw, sw, left, right)
    if ho < 1 or wo < 1:
        raise InputShapeError(
            f"{layer!r}: input of spatial size {shape[2]}x{shape[3]} is smaller than the "
            f"kernel {kh}x{kw} (after padding)"
        )
    return ho, wo
