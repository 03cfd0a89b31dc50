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

from nanocnn.cli.arguments import positive_float
from nanocnn.gradcheck import LAYER_GRID, LOSSES, TOLERANCE, check_layers, check_losses

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
