"""``Residual``: a skip connection, y = body(x) + shortcut(x) (He et al. 2015).

Forward, the input x goes down two paths that meet again in a sum:

    y = body(x) + shortcut(x)          shortcut = the identity when None

Backward, the sum hands the same gradient ``dout`` to both paths (d(a + b)/da = 1), and since
x fed both, its gradient is the sum of what comes back up each path (the multivariable chain
rule at a fork):

    dx = body.backward(dout) + shortcut.backward(dout)      (+ dout itself for the identity)

That second term is why deep residual networks train: even when the body's gradient is tiny,
``dout`` reaches x unchanged through the identity, so early layers receive a gradient of the
size later layers do (the notebook measures it). The forward allocates one array (the sum);
the backward adds the two gradients into the body's, in place, unless that would write into
``dout`` or another array it does not own.

The PyTorch twin is a module with two attributes, ``body`` (an ``nn.Sequential`` of the same
layers) and ``shortcut`` (the shortcut's twin, ``nn.Identity()`` or absent for the identity),
whose ``forward`` returns ``self.body(x) + self.shortcut(x)``: its parameters are named
``"body.0.weight"``, ``"shortcut.0.weight"``..., exactly as here, so state dicts move between
the two. torchvision's ``BasicBlock`` calls the shortcut ``downsample`` and puts the block's
last ReLU inside it; here the ReLU after the sum is the next layer of the model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nanocnn.errors import InputShapeError
from nanocnn.layers.base import Layer
from nanocnn.layers.container import (
    Container,
    SummaryRow,
    backward_layer,
    container_row,
    forward_layer,
    summary_rows,
)
from nanocnn.layers.registry import build_layer, layer_spec, register_layer
from nanocnn.layers.sequential import Sequential


@register_layer
class Residual(Container):
    """``Residual(*layers, shortcut=None)``: ``body(x) + shortcut(x)``, where ``body`` is
    ``Sequential(*layers)`` and ``shortcut`` a layer (often a ``Sequential`` of a 1x1
    ``Conv2D`` and a ``BatchNorm2D`` when the body changes the shape) or None for the
    identity. Both paths must give outputs of one shape."""

    fresh_output = True

    def __init__(self, *layers: Layer, shortcut: Layer | None = None) -> None:
        super().__init__()
        if not layers:
            raise ValueError("Residual needs at least one layer in its body")
        if shortcut is not None and not isinstance(shortcut, Layer):
            raise TypeError(f"Residual's shortcut must be a layer or None, got {shortcut!r}")
        self.body: Sequential = Sequential(*layers)
        self.shortcut = shortcut

    def children(self) -> list[tuple[str, Layer]]:
        shortcut = [] if self.shortcut is None else [("shortcut", self.shortcut)]
        return [("body", self.body), *shortcut]

    def config(self) -> dict[str, Any]:
        shortcut = None if self.shortcut is None else layer_spec(self.shortcut)
        return {"layers": self.body.config(), "shortcut": shortcut}

    @classmethod
    def child_specs(cls, args: dict[str, Any]) -> list[tuple[str, Any]]:
        layers, shortcut = args.get("layers"), args.get("shortcut")
        if not isinstance(layers, list) or set(args) != {"layers", "shortcut"}:
            raise ValueError(f"a Residual's spec holds its layers and shortcut, got {args}")
        body = [(f"body.{index}", spec) for index, spec in enumerate(layers)]
        return body + ([] if shortcut is None else [("shortcut", shortcut)])

    @classmethod
    def from_spec(cls, args: dict[str, Any]) -> Residual:
        children = [(name, build_layer(spec)) for name, spec in cls.child_specs(args)]
        body = [layer for name, layer in children if name != "shortcut"]
        return cls(*body, shortcut=dict(children).get("shortcut"))

    def forward(self, x: np.ndarray, training: bool = False, keep: bool = False) -> np.ndarray:
        return self._forward(x, training, keep, fast=False)

    def fast_forward(self, x: np.ndarray, training: bool | None = None) -> np.ndarray:
        return self._forward(x, bool(training), keep=False, fast=True)

    def _forward(self, x: np.ndarray, training: bool, keep: bool, fast: bool) -> np.ndarray:
        out = _run_path("body", self.body, x, training, keep, fast)
        skip = x
        if self.shortcut is not None:
            skip = _run_path("shortcut", self.shortcut, x, training, keep, fast)
        if out.shape != skip.shape:
            raise InputShapeError(
                f"Residual: the body gives {out.shape} but the shortcut {skip.shape} for input "
                f"{x.shape}; when the body changes the channels or the size, give the shortcut "
                "a 1x1 Conv2D with the body's stride"
            )
        return out + skip  # (N, ...): the one new array

    def backward(self, dout: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        return self._backward(dout, input_grad, fast=False)

    def fast_backward(self, dout: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        return self._backward(dout, input_grad, fast=True)

    def _backward(self, dout: np.ndarray, input_grad: bool, fast: bool) -> np.ndarray | None:
        # the sum passes dout to both paths; x's gradient is the sum of both paths' own
        dx = backward_layer(self.body, dout, input_grad, fast)
        skip = (
            dout if self.shortcut is None else backward_layer(self.shortcut, dout, input_grad, fast)
        )
        if not input_grad:
            return None
        assert dx is not None and skip is not None
        if dx.flags.writeable and not (
            np.may_share_memory(dx, dout) or np.may_share_memory(dx, skip)
        ):
            dx += skip  # the body's own fresh array: no new one
            return dx
        return dx + skip

    def summary_rows(
        self, x: np.ndarray, name: str, depth: int
    ) -> tuple[list[SummaryRow], np.ndarray]:
        rows, out = summary_rows(self.body, x, f"{name}.body", depth + 1)
        skip = x
        if self.shortcut is not None:
            shortcut_rows, skip = summary_rows(self.shortcut, x, f"{name}.shortcut", depth + 1)
            rows += shortcut_rows
        out = out + skip
        return [container_row(self, out, name, depth), *rows], out


def _run_path(
    name: str, layer: Layer, x: np.ndarray, training: bool, keep: bool, fast: bool
) -> np.ndarray:
    """One path of the block on ``x``; a shape error leaves naming the path."""
    try:
        return forward_layer(layer, x, training, keep, fast)
    except InputShapeError as error:
        raise error.within(name) from None
