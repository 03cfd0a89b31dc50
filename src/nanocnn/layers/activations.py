"""Element-wise activations and the Softmax layer. Each keeps only what its derivative needs.

ReLU       y = max(x, 0)                     dy/dx = [x > 0]
LeakyReLU  y = x if x > 0 else a * x         dy/dx = 1 if x > 0 else a
Sigmoid    y = 1 / (1 + exp(-x))             dy/dx = y * (1 - y)
Tanh       y = tanh(x)                       dy/dx = 1 - y**2
Softmax    y_i = exp(x_i) / sum_j exp(x_j)   dx = y * (dout - sum(dout * y))   (per row)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nanocnn.layers.base import Layer
from nanocnn.layers.registry import register_layer


class _Elementwise(Layer):
    """An activation that caches one array from forward for its backward."""

    def __init__(self) -> None:
        super().__init__()
        self._cache: np.ndarray | None = None

    def _check(self, x: np.ndarray) -> None:
        if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
            kind = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
            raise ValueError(f"{type(self).__name__} expected a floating-point array, got {kind}")

    def backward(self, dout: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        if self._cache is None:
            raise self._missing_cache()
        return self._derivative(dout, self._cache) if input_grad else None

    def _derivative(self, dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
        """dx from dout and the array forward kept."""
        raise NotImplementedError


@register_layer
class ReLU(_Elementwise):
    """``ReLU()``: y = max(x, 0), any shape. ``forward(x, in_place=True)`` writes y into x
    (for an x nothing else holds: no new array, one pass over memory instead of two)."""

    def forward(
        self, x: np.ndarray, training: bool = False, keep: bool = False, in_place: bool = False
    ) -> np.ndarray:
        self._check(x)
        out = np.maximum(x, 0, out=x if in_place else None)
        self._cache = out if training or keep else None
        return out

    def _derivative(self, dout: np.ndarray, out: np.ndarray) -> np.ndarray:
        # A multiply by the mask runs vectorised; np.where branches on every element. The mask
        # is made as 0.0 and 1.0 in dout's dtype, into the array that becomes dx (in out's
        # memory layout, batch-last after a convolution): a float product is faster than a
        # float-by-boolean one, and no boolean array is made.
        dx = np.greater(out, 0, out=np.empty_like(out, dtype=dout.dtype))
        dx *= dout
        return dx


@register_layer
class LeakyReLU(_Elementwise):
    """``LeakyReLU(negative_slope=0.01)``: y = x for x > 0, else negative_slope * x."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = float(negative_slope)

    def config(self) -> dict[str, Any]:
        return {"negative_slope": self.negative_slope}

    def forward(self, x: np.ndarray, training: bool = False, keep: bool = False) -> np.ndarray:
        self._check(x)
        positive = x > 0
        self._cache = positive if training or keep else None
        return np.where(positive, x, x * self.negative_slope)

    def _derivative(self, dout: np.ndarray, positive: np.ndarray) -> np.ndarray:
        return np.where(positive, dout, dout * self.negative_slope)


@register_layer
class Sigmoid(_Elementwise):
    """``Sigmoid()``: y = 1 / (1 + exp(-x)), computed as (1 + tanh(x / 2)) / 2 (no overflow)."""

    def forward(self, x: np.ndarray, training: bool = False, keep: bool = False) -> np.ndarray:
        self._check(x)
        out = 0.5 * (1.0 + np.tanh(0.5 * x))
        self._cache = out if training or keep else None
        return out

    def _derivative(self, dout: np.ndarray, out: np.ndarray) -> np.ndarray:
        return dout * out * (1.0 - out)


@register_layer
class Tanh(_Elementwise):
    """``Tanh()``: y = tanh(x)."""

    def forward(self, x: np.ndarray, training: bool = False, keep: bool = False) -> np.ndarray:
        self._check(x)
        out = np.tanh(x)
        self._cache = out if training or keep else None
        return out

    def _derivative(self, dout: np.ndarray, out: np.ndarray) -> np.ndarray:
        return dout * (1.0 - out * out)


@register_layer
class Softmax(_Elementwise):
    """``Softmax()``: probabilities over the last axis, for inference on logits (N, K).

    To train a classifier, end the model with logits and use ``SoftmaxCrossEntropy``, which
    fuses the two stably; this layer's backward is still exact for other uses.
    """

    def forward(self, x: np.ndarray, training: bool = False, keep: bool = False) -> np.ndarray:
        self._check(x)
        out = softmax(x)
        self._cache = out if training or keep else None
        return out

    def _derivative(self, dout: np.ndarray, out: np.ndarray) -> np.ndarray:
        return out * (dout - np.sum(dout * out, axis=-1, keepdims=True))


def softmax(x: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, shifted by the row maximum so exp never overflows."""
    shifted = x - np.max(x, axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / np.sum(exp, axis=-1, keepdims=True)
