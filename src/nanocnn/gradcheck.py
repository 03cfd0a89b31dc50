"""Check hand-written gradients against central differences, in float64.

For a layer with output y = f(x) and an upstream gradient g (dout), the checked scalar is
``L = sum(f(x) * g)``, so ``dL/dx`` is exactly what ``backward(g)`` must return, in the
middle of a network rather than only at a scalar loss. Each entry is compared with

    (L(x + eps e_i) - L(x - eps e_i)) / (2 eps)

and the result is the relative error ``||analytic - numeric|| / (||analytic|| + ||numeric||)``
(0 when both are zero). In float64 a correct backward gives about 1e-9 or less; a wrong one
gives something near 1.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np

from nanocnn.layers import Layer
from nanocnn.losses import Loss


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """``||a - n|| / (||a|| + ||n||)``, or 0.0 when both are zero."""
    scale = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    return 0.0 if scale == 0 else float(np.linalg.norm(analytic - numeric) / scale)


def numerical_gradient(f: Callable[[], float], array: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of ``f()`` with respect to ``array``, perturbed in place
    one entry at a time (and restored)."""
    grad = np.zeros_like(array)
    flat, flat_grad = array.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + eps
        plus = f()
        flat[i] = original - eps
        minus = f()
        flat[i] = original
        flat_grad[i] = (plus - minus) / (2 * eps)
    return grad


def gradcheck(
    layer: Layer,
    x: np.ndarray,
    dout: np.ndarray | None = None,
    *,
    training: bool = True,
    eps: float = 1e-6,
    seed: int = 0,
) -> dict[str, float]:
    """Relative errors of ``layer``'s backward: ``{"x": ..., "<param>": ...}``.

    ``training=False`` checks the gradients of an inference pass (``forward(x, keep=True)``:
    BatchNorm with its running statistics, Dropout as the identity). The layer is copied and
    converted to float64 (the original is untouched). Every evaluation runs on a fresh copy,
    so a random layer (Dropout) draws the same mask each time and a BatchNorm's running
    statistics do not drift. ``dout`` defaults to a random upstream gradient of the output's
    shape.
    """
    layer = copy.deepcopy(layer).astype(np.float64)
    x = np.array(x, dtype=np.float64)
    out = copy.deepcopy(layer).forward(x, training=training)
    if dout is None:
        dout = np.random.default_rng(seed).standard_normal(out.shape)
    dout = np.asarray(dout, dtype=np.float64)
    if dout.shape != out.shape:
        raise ValueError(f"dout has shape {dout.shape}, the output has {out.shape}")

    def objective() -> float:
        return float(np.sum(copy.deepcopy(layer).forward(x, training=training) * dout))

    analytic = copy.deepcopy(layer)
    kept = {} if training else {"keep": True}  # a training pass always keeps its cache
    analytic.forward(x, training=training, **kept)
    dx = analytic.backward(dout)
    if dx is None:
        raise RuntimeError(f"{type(layer).__name__}.backward() returned no input gradient")
    errors = {"x": relative_error(dx, numerical_gradient(objective, x, eps))}
    for name, param in layer.params.items():
        errors[name] = relative_error(
            analytic.grads[name], numerical_gradient(objective, param, eps)
        )
    return errors


def gradcheck_loss(loss: Loss, pred: np.ndarray, target: np.ndarray, *, eps: float = 1e-6) -> float:
    """Relative error of ``loss.backward()`` against central differences on ``pred``."""
    pred = np.array(pred, dtype=np.float64)
    loss.forward(pred, target)
    analytic = loss.backward().copy()
    numeric = numerical_gradient(lambda: loss.forward(pred, target), pred, eps)
    return relative_error(analytic, numeric)
