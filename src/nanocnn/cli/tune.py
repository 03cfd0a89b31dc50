"""``nanocnn tune``: search, within a time budget, for the training recipe that suits your
data (Optuna's TPE sampler, bad trials pruned by their validation curve), then train the best
one on training and validation data together and test it once. Needs the ``tune`` extra."""

from __future__ import annotations

import argparse
from pathlib import Path

from nanocnn.cli.arguments import duration, positive_int
from nanocnn.cli.run_options import add_data_options, train_options


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "tune",
        help="search for the recipe that suits your data, within a time budget (Optuna)",
        description="Try recipes (architecture, learning rate, optimizer, batch size, weight "
        "decay, augmentation, label smoothing), each for an eighth of the budget, starting "
        "with the presets' own; keep the study in --out (the same command again carries it "
        "on); train the best recipe on the training and validation data and test it once. "
        "Needs: pip install 'nanocnn[tune]'.",
    )
    add_data_options(parser)
    parser.add_argument(
        "--budget", type=duration, required=True, metavar="DURATION",
        help="the time for everything: trials and the final training (e.g. 20m, 1h)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, required=True, help="the run folder of the study")
    parser.add_argument(
        "--workers", type=positive_int, default=1,
        help="run trials in N processes side by side, one BLAS thread each",
    )  # fmt: skip
    parser.add_argument("--search-only", action="store_true", help=argparse.SUPPRESS)
    return parser


def run(args: argparse.Namespace) -> int:
    from nanocnn.job.tune import tune

    tune(train_options(args), args.budget, args.out, args.workers, args.search_only)
    return 0
