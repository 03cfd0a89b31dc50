"""How one output number of one layer is computed, with the numbers: one neuron's arithmetic.

    neuron = explain_neuron(trace, "3", (5, 2, 4))    # map 5 of layer 3, row 2, column 4
    neuron.patch, neuron.kernel, neuron.products, neuron.total

- a convolution: the input window of every input channel (zeros in the padding), the
  kernel, their products, each channel's sum, and the bias (:class:`ConvNeuron`);
- a pooling: the window and which input wins it, or their mean (:class:`PoolNeuron`);
- a dense layer: every input times its weight, the largest contributions first
  (:class:`DenseNeuron`);
- anything else (activations, batch norm, a Residual's sum, Flatten): the number that came
  in and the one that went out (:class:`PassNeuron`).

The sums are taken here in float64, straight from the formulas; the layer's own output (from
its im2col and matrix product, in float32) is ``value``, and agrees to about seven digits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nanocnn.explain.trace import Trace
from nanocnn.kernels import pad, to_chwn
from nanocnn.layers import AvgPool2D, Conv2D, Dense, GlobalAvgPool2D, MaxPool2D, Residual

Position = tuple[int, ...]  # (channel, row, column) in a map, or (unit,)


@dataclass(frozen=True)
class ConvNeuron:
    """``out[o, row, col] = sum over c, i, j of patch[c, i, j] * kernel[c, i, j] + bias``."""

    position: Position  # (o, row, col)
    origin: tuple[int, int]  # the window's top-left in the input (negative in the padding)
    patch: np.ndarray  # (C, kh, kw) the input window, zeros in the padding
    kernel: np.ndarray  # (C, kh, kw) weight[o]
    bias: float  # 0 for a layer without bias
    value: float  # the layer's own output there

    @property
    def products(self) -> np.ndarray:
        """(C, kh, kw) in float64."""
        return self.patch.astype(np.float64) * self.kernel

    @property
    def channel_sums(self) -> np.ndarray:
        """(C,) the products of each input channel, summed."""
        return self.products.sum(axis=(1, 2))

    @property
    def total(self) -> float:
        """The sum of every product, plus the bias."""
        return float(self.channel_sums.sum() + self.bias)


@dataclass(frozen=True)
class PoolNeuron:
    """``out[c, row, col]``: the largest number of the window (max pooling) or their mean."""

    position: Position  # (c, row, col)
    origin: tuple[int, int]  # the window's top-left in the input (negative in the padding)
    patch: np.ndarray  # (kh, kw) the window of channel c (-inf or 0 in the padding)
    kind: str  # "max" or "mean"
    value: float  # the layer's own output there

    @property
    def winner(self) -> tuple[int, int]:
        """(i, j) in the window of the largest number (the first, on ties, as the layer)."""
        i, j = np.unravel_index(int(np.argmax(self.patch)), self.patch.shape)
        return int(i), int(j)

    @property
    def total(self) -> float:
        """The window's maximum or mean, in float64."""
        window = self.patch.astype(np.float64)
        return float(window.max() if self.kind == "max" else window.mean())


@dataclass(frozen=True)
class DenseNeuron:
    """``out[unit] = sum over k of inputs[k] * weights[k] + bias``."""

    position: Position  # (unit,)
    inputs: np.ndarray  # (in,) the layer's input
    weights: np.ndarray  # (in,) weight[unit]
    bias: float
    value: float  # the layer's own output

    @property
    def contributions(self) -> np.ndarray:
        """(in,) each input times its weight, in float64."""
        return self.inputs.astype(np.float64) * self.weights

    def largest(self, count: int) -> np.ndarray:
        """The indices of the ``count`` contributions largest in size, largest first."""
        return np.argsort(-np.abs(self.contributions), kind="stable")[:count]

    @property
    def total(self) -> float:
        return float(self.contributions.sum() + self.bias)


@dataclass(frozen=True)
class PassNeuron:
    """A layer that maps numbers one to one (or adds two paths): what came in, what went out."""

    position: Position
    inputs: dict[str, float]  # "x", or a Residual's "body" and "skip"
    value: float  # the layer's output there


Neuron = ConvNeuron | PoolNeuron | DenseNeuron | PassNeuron


def explain_neuron(trace: Trace, name: str, position: Position) -> Neuron:
    """How the output at ``position`` of the layer ``name`` of ``trace`` was computed.
    ``position`` is (channel, row, column) for a layer with maps, (unit,) for one with units;
    IndexError if it lies outside the layer's output."""
    column = trace.column(name)
    out = column.output[0]
    if len(position) != out.ndim or not all(
        0 <= p < n for p, n in zip(position, out.shape, strict=True)
    ):
        raise IndexError(f"{position} lies outside the output {out.shape} of layer {name}")
    value = float(out[position])
    layer, x = column.layer, column.input
    if isinstance(layer, Conv2D):
        o, row, col = position
        patch, origin = _window(x, layer.pads, layer.kernel_size, layer.stride, row, col)
        bias = float(layer.params["bias"][o]) if "bias" in layer.params else 0.0
        return ConvNeuron(position, origin, patch, layer.params["weight"][o], bias, value)
    if isinstance(layer, (MaxPool2D, AvgPool2D)):
        c, row, col = position
        fill = -np.inf if isinstance(layer, MaxPool2D) else 0.0
        patch, origin = _window(x, layer.pads, layer.kernel_size, layer.stride, row, col, fill)
        kind = "max" if isinstance(layer, MaxPool2D) else "mean"
        return PoolNeuron(position, origin, patch[c], kind, value)
    if isinstance(layer, GlobalAvgPool2D):
        return PoolNeuron(position, (0, 0), x[0, position[0]], "mean", value)
    if isinstance(layer, Dense):
        (unit,) = position
        bias = float(layer.params["bias"][unit]) if "bias" in layer.params else 0.0
        return DenseNeuron(position, x[0], layer.params["weight"][unit], bias, value)
    if isinstance(layer, Residual):  # the outputs of its two paths, added
        body = _last(trace, f"{name}.body.")
        skip = x if layer.shortcut is None else _last(trace, f"{name}.shortcut")
        inputs = {"body": float(body[0][position]), "skip": float(skip[0][position])}
        return PassNeuron(position, inputs, value)
    if x.shape != column.output.shape:  # Flatten: the same numbers, reshaped
        x = x.reshape(column.output.shape)
    return PassNeuron(position, {"x": float(x[0][position])}, value)


def _window(
    x: np.ndarray,
    pads: tuple[int, int, int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    row: int,
    col: int,
    fill: float = 0.0,
) -> tuple[np.ndarray, tuple[int, int]]:
    """The (C, kh, kw) window of the one input ``x`` (1, C, H, W), padded with ``fill``, that
    makes output (row, col); and its top-left corner in the unpadded input."""
    xp = pad(to_chwn(x), pads, fill)[..., 0]  # (C, Hp, Wp)
    top, left = row * stride[0], col * stride[1]
    patch = xp[:, top : top + kernel[0], left : left + kernel[1]]
    return patch, (top - pads[0], left - pads[2])


def _last(trace: Trace, prefix: str) -> np.ndarray:
    """The output of the last column whose name starts with ``prefix``: what a path of a
    block gives (columns are in the order they ran)."""
    return [column.output for column in trace.columns if column.name.startswith(prefix)][-1]
