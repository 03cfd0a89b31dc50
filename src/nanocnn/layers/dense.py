"""The fully connected layer and the Flatten that leads into it.

Dense, for x (N, in) and weight (out, in) as in PyTorch's Linear:

    y  = x @ W.T + b          (N, out)
    dx = dout @ W             (N, in)
    dW = dout.T @ x           (out, in)
    db = dout.sum(axis=0)     (out,)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nanocnn.errors import InputShapeError
from nanocnn.init import Init, init_weight
from nanocnn.layers.base import Layer, as_int, as_rng
from nanocnn.layers.registry import register_layer


@register_layer
class Dense(Layer):
    """``Dense(in_features, out_features, bias=True)``: (N, in_features) -> (N, out_features)."""

    size_args = ("in_features", "out_features")

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        init: Init = "he",
        rng: np.random.Generator | int | None = None,
        dtype: np.typing.DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        self.in_features = as_int(in_features, "in_features", minimum=1)
        self.out_features = as_int(out_features, "out_features", minimum=1)
        self.init = str(init)
        shape = (self.out_features, self.in_features)
        self.params["weight"] = init_weight(
            shape, self.in_features, self.out_features, init, as_rng(rng), dtype
        )
        if bias:
            self.params["bias"] = np.zeros(self.out_features, dtype=dtype)
        self.grads = {name: np.zeros_like(value) for name, value in self.params.items()}
        self._cache: np.ndarray | None = None

    def config(self) -> dict[str, Any]:
        return {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "bias": "bias" in self.params,
            "init": self.init,
        }

    fresh_output = True

    def forward(self, x: np.ndarray, training: bool = False, keep: bool = False) -> np.ndarray:
        self._check_input(x, ndim=2, channels=self.in_features)
        out = x @ self.params["weight"].T
        if "bias" in self.params:
            out += self.params["bias"]
        self._cache = x if training or keep else None
        return out

    def backward(self, dout: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """Fill ``grads`` and return dx; ``input_grad=False`` skips dx and returns None."""
        if self._cache is None:
            raise self._missing_cache()
        np.matmul(dout.T, self._cache, out=self.grads["weight"])
        if "bias" in self.params:
            np.sum(dout, axis=0, out=self.grads["bias"])
        return dout @ self.params["weight"] if input_grad else None


@register_layer
class Flatten(Layer):
    """``Flatten()``: (N, d1, d2, ...) -> (N, d1 * d2 * ...), in C order as PyTorch's."""

    def __init__(self) -> None:
        super().__init__()
        self._cache: np.ndarray | None = None

    def forward(self, x: np.ndarray, training: bool = False, keep: bool = False) -> np.ndarray:
        if x.ndim < 2:
            raise InputShapeError(f"Flatten expected input of shape (N, ...), got shape {x.shape}")
        self._cache = x if training or keep else None
        return x.reshape(len(x), math.prod(x.shape[1:]))  # -1 fails on an empty batch

    def backward(self, dout: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        if self._cache is None:
            raise self._missing_cache()
        if not input_grad:
            return None
        # dx laid out in memory as x was (batch-last after a conv or pool), so the layers
        # below read it in order
        dx = np.empty_like(self._cache)
        dx[...] = dout.reshape(dx.shape)
        return dx
