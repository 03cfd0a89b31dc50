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
from typing import Any

import numpy as np

from nanocnn import layers as nc
from nanocnn import losses
from nanocnn.layers import LAYER_TYPES, Layer
from nanocnn.losses import Loss
from nanocnn.presets import basic_block

TOLERANCE = 1e-6  # the largest relative error that passes

# The grids of shapes the geometric layers are checked over, by ``nanocnn gradcheck`` and in
# the tests.
# Convolutions: (input shape, out channels, kernel, stride, padding), each with and without bias.
CONV_GRID: list[tuple[tuple[int, int, int, int], int, Any, Any, Any]] = [
    ((2, 1, 6, 6), 2, 3, 1, 0),
    ((2, 3, 7, 7), 4, 3, 2, 1),
    ((1, 2, 8, 5), 3, (3, 2), (2, 1), (1, 0)),
    ((2, 2, 9, 9), 2, 4, 3, 2),  # the stride does not tile the input
    ((1, 3, 5, 6), 2, 1, 1, 0),  # 1x1 kernel
    ((2, 2, 6, 6), 3, 3, 1, "same"),
    ((1, 2, 6, 7), 2, (2, 4), 1, "same"),  # even kernel: uneven padding
    ((2, 1, 5, 5), 2, 5, 1, "valid"),  # the kernel covers the input
    ((1, 2, 4, 5), 2, (1, 3), 1, (1, 3)),  # padding beyond the kernel's reach (rows of zeros)
]
# Pools: (input shape, kernel, stride, padding), each for MaxPool2D and AvgPool2D.
POOL_GRID: list[tuple[tuple[int, int, int, int], Any, Any, Any]] = [
    ((2, 2, 6, 6), 2, None, 0),
    ((2, 3, 7, 7), 2, None, 0),  # odd size: the last row and column are dropped
    ((1, 2, 7, 7), 3, 2, 1),  # overlapping windows with padding
    ((2, 1, 6, 5), (3, 2), (1, 2), (1, 1)),
    ((1, 2, 5, 5), 3, 1, 0),  # heavy overlap
]
# Dense: (batch, in features, out features), each with and without bias.
DENSE_GRID: list[tuple[int, int, int]] = [(1, 1, 1), (4, 7, 3), (5, 16, 10)]
# Residual basic blocks (nanocnn.presets.basic_block): (input shape, out channels, stride);
# the shortcut is the identity when the shape stays, a 1x1 conv + BatchNorm otherwise.
RESIDUAL_GRID: list[tuple[tuple[int, int, int, int], int, int]] = [
    ((2, 3, 5, 5), 3, 1),  # identity shortcut
    ((3, 2, 7, 7), 4, 2),  # projection, odd size: 7 -> 4
    ((2, 2, 6, 5), 3, 1),  # projection of the channels only
    ((2, 3, 6, 8), 3, 2),  # projection of the size only
]

# (layer type, positional constructor arguments, input shape): every type in LAYER_TYPES.
LAYER_GRID: list[tuple[str, tuple[Any, ...], tuple[int, ...]]] = [
    *(
        ("Conv2D", (shape[1], out_channels, kernel, stride, padding, bias), shape)
        for shape, out_channels, kernel, stride, padding in CONV_GRID
        for bias in (True, False)
    ),
    *(
        (pool, (kernel, stride, padding), shape)
        for pool in ("MaxPool2D", "AvgPool2D")
        for shape, kernel, stride, padding in POOL_GRID
    ),
    *(
        ("Dense", (fan_in, fan_out, bias), (n, fan_in))
        for n, fan_in, fan_out in DENSE_GRID
        for bias in (True, False)
    ),
    ("Flatten", (), (2, 3, 4, 4)),
    ("ReLU", (), (2, 3, 4, 4)),
    ("LeakyReLU", (0.1,), (3, 5)),
    ("Sigmoid", (), (3, 5)),
    ("Tanh", (), (2, 3, 4, 4)),
    ("Softmax", (), (3, 5)),
    ("Dropout", (0.4,), (4, 10)),
    ("BatchNorm1D", (5,), (6, 5)),
    ("BatchNorm2D", (3,), (4, 3, 3, 3)),
    ("GlobalAvgPool2D", (), (2, 3, 4, 5)),
    ("GlobalAvgPool2D", (), (3, 2, 1, 1)),
    *(
        ("Residual", (shape[1], out_channels, stride), shape)
        for shape, out_channels, stride in RESIDUAL_GRID
    ),
    ("Sequential", (), (3, 2, 6, 6)),  # nested: see nested_model
]

LOSSES = ["SoftmaxCrossEntropy", "MSELoss", "L1Loss", "HuberLoss", "BCEWithLogitsLoss"]
# (loss type, constructor keyword arguments): every loss, and the variants worth a row
LOSS_GRID: list[tuple[str, dict[str, Any]]] = [
    *((kind, {}) for kind in LOSSES),
    ("SoftmaxCrossEntropy", {"label_smoothing": 0.1}),
]


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


Row = tuple[str, str, str, dict[str, float]]  # (type, description, input shape, errors)


def check_layers() -> list[Row]:
    """Relative errors of every layer in ``LAYER_GRID`` (x, and each parameter)."""
    rows = []
    for index, (kind, args, shape) in enumerate(LAYER_GRID):
        seeded = {"rng": index} if kind in ("Conv2D", "Dense", "Dropout") else {}
        layer: Layer
        if kind == "Residual":
            layer = basic_block(np.random.default_rng(index), *args)
            description = "Residual(basic block {} -> {}, stride {})".format(*args)
        elif kind == "Sequential":
            layer, description = nested_model(), "Sequential(nested: see nested_model)"
        else:
            layer = LAYER_TYPES[kind](*args, **seeded)
            description = repr(layer)
        # x from another seed than gradcheck's dout: for BatchNorm an upstream gradient that
        # is an affine function of x would have a true input gradient of exactly zero.
        x = np.random.default_rng([index, 1]).standard_normal(shape) * 2
        rows.append((kind, description, str(shape), gradcheck(layer, x)))
    return rows


def nested_model() -> Any:
    """A Sequential three containers deep, (N, 2, 6, 6) -> (N, 3): a residual block whose
    shortcut is a Sequential holding a Residual, global pooling and a dense layer."""
    return nc.Sequential(
        nc.Conv2D(2, 3, 3, padding=1, bias=False, rng=0), nc.BatchNorm2D(3), nc.ReLU(),
        nc.Residual(
            nc.Conv2D(3, 4, 3, stride=2, padding=1, rng=1), nc.Tanh(),
            shortcut=nc.Sequential(
                nc.Conv2D(3, 4, 1, stride=2, rng=2), nc.Residual(nc.Conv2D(4, 4, 1, rng=3))
            ),
        ),
        nc.GlobalAvgPool2D(), nc.Dense(4, 3, rng=4),
    )  # fmt: skip


def check_losses() -> list[Row]:
    """Relative error of every loss's gradient with respect to its prediction."""
    rng = np.random.default_rng(0)
    pred = rng.standard_normal((6, 4)) * 2
    labels = rng.integers(0, 4, 6)
    # Targets at least 0.05 from the prediction: L1 and Huber have kinks where they meet.
    targets = pred + rng.uniform(0.05, 2, pred.shape) * rng.choice([-1, 1], pred.shape)
    probabilities = rng.uniform(0, 1, pred.shape)  # soft 0/1 targets
    special = {"SoftmaxCrossEntropy": labels, "BCEWithLogitsLoss": probabilities}
    rows = []
    for kind, options in LOSS_GRID:
        loss = getattr(losses, kind)(**options)
        target = special.get(kind, targets)
        rows.append((kind, repr(loss), str(pred.shape), {"x": gradcheck_loss(loss, pred, target)}))
    return rows
