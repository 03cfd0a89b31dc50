"""Inverted dropout: zero each unit with probability p while training, scale the rest by 1/(1-p).

mask = (u >= p) / (1 - p),  u ~ U[0, 1)
y    = x * mask,  dx = dout * mask         (training)
y    = x,  dx = dout                       (inference: nothing to rescale, nothing drawn)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nanocnn.layers.base import Layer, as_rng
from nanocnn.layers.registry import register_layer


@register_layer
class Dropout(Layer):
    """``Dropout(p=0.5, rng=None)``: any shape; identity when not training."""

    transient = ("_mask",)

    def __init__(self, p: float = 0.5, rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout probability must be in [0, 1), got {p}")
        self.p = float(p)
        self.rng = as_rng(rng)
        self._mask: np.ndarray | None = None

    def config(self) -> dict[str, Any]:
        return {"p": self.p}

    def forward(self, x: np.ndarray, training: bool = False, keep: bool = False) -> np.ndarray:
        if not training or self.p == 0.0:
            self._mask = np.ones((), dtype=x.dtype) if training or keep else None
            return x
        kept = self.rng.random(x.shape, dtype=x.dtype) >= self.p
        self._mask = kept * np.asarray(1.0 / (1.0 - self.p), dtype=x.dtype)
        return x * self._mask

    def backward(self, dout: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        if self._mask is None:
            raise self._missing_cache()
        return dout * self._mask if input_grad else None
