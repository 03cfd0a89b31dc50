"""``nanocnn gradcheck``: every layer's and loss's backward against central differences.

For whoever changes a layer: each layer type is checked over a grid of input shapes, kernel
sizes, strides and paddings (overlapping windows, windows that do not tile the input, even
kernels, "same" padding) with :func:`nanocnn.gradcheck.gradcheck`, in float64, and every loss
with :func:`nanocnn.gradcheck.gradcheck_loss`. A row passes when each of its relative errors
is below the tolerance: a correct backward gives about 1e-9 or less, a wrong one something
near 1. The exit status is 1 if any row fails.
"""

from __future__ import annotations

import argparse
from typing import Any

from nanocnn.cli.arguments import positive_float

TOLERANCE = 1e-6

# The grids of shapes the geometric layers are checked over, here and in the tests.
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
COLUMNS = ("x", "weight", "bias")  # the relative errors shown: the input's and parameters'


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "gradcheck",
        help="check every layer's gradients numerically",
        description="Compare each layer's and loss's hand-written backward with central "
        "differences in float64, over a grid of shapes, kernels, strides and paddings; "
        "print a table of relative errors. Exit status 1 if any check fails.",
    )
    parser.add_argument(
        "--layer",
        action="append",
        choices=sorted({name for name, _, _ in LAYER_GRID} | set(LOSSES)),
        metavar="TYPE",
        help="check only this layer or loss type (repeatable), e.g. Conv2D",
    )
    parser.add_argument(
        "--tolerance",
        type=positive_float,
        default=TOLERANCE,
        help=f"largest relative error that passes (default: {TOLERANCE:g})",
    )
    return parser


def run(args: argparse.Namespace) -> int:
    wanted = set(args.layer or ())
    rows = [row for row in check_layers() + check_losses() if not wanted or row[0] in wanted]
    width = max(len(name) for _, name, _, _ in rows)
    print(f"{'layer':<{width}}  {'input':<14} {'x':>8} {'weight':>8} {'bias':>8}  result")
    failed = 0
    for _, name, shape, errors in rows:
        passed = max(errors.values()) < args.tolerance
        failed += not passed
        cells = [f"{errors[key]:8.1e}" if key in errors else f"{'-':>8}" for key in COLUMNS]
        print(f"{name:<{width}}  {shape:<14} {' '.join(cells)}  {'PASS' if passed else 'FAIL'}")
    verdict = f", {failed} FAILED" if failed else ""
    print(f"\n{len(rows) - failed}/{len(rows)} passed{verdict} (tolerance {args.tolerance:g})")
    return 1 if failed else 0


Row = tuple[str, str, str, dict[str, float]]  # (type, description, input shape, errors)


def check_layers() -> list[Row]:
    """Relative errors of every layer in ``LAYER_GRID`` (x, and each parameter)."""
    import numpy as np

    from nanocnn.gradcheck import gradcheck
    from nanocnn.layers import LAYER_TYPES, Layer
    from nanocnn.presets import basic_block

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
    import nanocnn as nc

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
    import numpy as np

    from nanocnn import losses
    from nanocnn.gradcheck import gradcheck_loss

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
