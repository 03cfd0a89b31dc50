"""``nanocnn evaluate``: the test-set report of a saved model, on the test set of its task."""

from __future__ import annotations

import argparse
from pathlib import Path

from nanocnn.cli.arguments import model_file
from nanocnn.cli.run_options import data_dir_help


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "evaluate",
        help="test-set report of a saved model",
        description="The model's test report on the test set of its task: for classifiers "
        "accuracy, per-class precision/recall/F1 and the confusion matrix with the class "
        "names; for the age task MAE, RMSE and R². The test images are the ones its "
        "training run tested on.",
    )
    parser.add_argument(
        "model_file", type=model_file, metavar="MODEL", help="a model file or run folder"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="the data the model was trained on: " + data_dir_help(),
    )
    return parser


def run(args: argparse.Namespace) -> int:
    from nanocnn.cli.arguments import load_with_task

    model, task = load_with_task(args.model_file)
    print(task.format_report(task.evaluate(model, task.test_data(model, args.data_dir))))
    return 0
