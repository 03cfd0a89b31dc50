"""``nanocnn lr-find``: which learning rate suits a preset on your data (Smith's range test):
a few hundred steps with the learning rate growing from 1e-7 to 10, the loss plotted against
it, and a suggestion (the lowest loss's rate divided by ten) for ``nanocnn train --lr``."""

from __future__ import annotations

import argparse
from pathlib import Path

from nanocnn.cli.arguments import positive_float, positive_int
from nanocnn.cli.run_options import add_data_options, add_recipe_options, train_options


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "lr-find",
        help="find a learning rate for your data: the loss against the learning rate",
        description="The learning-rate range test (Smith 2017; fastai's lr_find): train "
        "briefly while the learning rate grows exponentially, plot the smoothed loss against "
        "it, and suggest a rate for nanocnn train --lr. The model and data are those nanocnn "
        "train would use with the same options.",
    )
    add_data_options(parser)
    add_recipe_options(parser)
    parser.add_argument("--steps", type=positive_int, default=100, help="steps of the test")
    parser.add_argument("--start", type=positive_float, default=1e-7, help="first rate")
    parser.add_argument("--end", type=positive_float, default=10.0, help="last rate")
    parser.add_argument(
        "--plot", type=Path, default=Path("lr_find.png"), help="where to draw the loss curve"
    )
    return parser


def run(args: argparse.Namespace) -> int:
    from nanocnn.job.lr_find import find_lr

    options = train_options(args)
    finding = find_lr(options, args.steps, args.start, args.end, args.plot)
    lowest = finding.lrs[finding.losses.index(min(finding.losses))]
    print(
        f"suggested learning rate {finding.suggestion:.1e} (the lowest loss was at "
        f"{lowest:.1e}; a tenth of it trains fast and stays stable)\n"
        f"nanocnn train --lr {finding.suggestion:.1e} ...\nplot: {args.plot}"
    )
    return 0
