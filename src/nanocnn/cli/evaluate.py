"""``nanocnn evaluate``: the test-set report of a saved digits model."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "evaluate",
        help="test-set report of a saved model",
        description="Accuracy, per-class precision/recall/F1 and the confusion matrix on "
        "the MNIST test set.",
    )
    parser.add_argument("model_file", type=Path, metavar="MODEL_FILE")
    parser.add_argument("--data-dir", type=Path, help="MNIST files (default: the bundled copy)")
    return parser


def run(args: argparse.Namespace) -> int:
    from nanocnn import metrics
    from nanocnn.cli.arguments import load_task_model
    from nanocnn.datasets import load_mnist
    from nanocnn.jobs.digits import evaluate_digits

    model = load_task_model(args.model_file, "digits")
    data = load_mnist(args.data_dir)
    print(metrics.format_classification_report(evaluate_digits(model, data.x_test, data.y_test)))
    return 0
