"""``nanocnn predict``: classify photos or drawings of digits with a saved model."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "predict",
        help="classify digit images (PNG, JPG...)",
        description="Each image is turned into a 28x28 MNIST-style digit (grayscale, light "
        "ink on dark, cropped, scaled to 20x20, centred by mass) and classified.",
    )
    parser.add_argument("model_file", type=Path, metavar="MODEL_FILE")
    parser.add_argument("images", type=Path, nargs="+", metavar="IMAGE")
    return parser


def run(args: argparse.Namespace) -> int:
    from nanocnn.cli.arguments import load_task_model
    from nanocnn.jobs.digits import classify_digits

    model = load_task_model(args.model_file, "digits")
    for path, probabilities in zip(args.images, classify_digits(model, args.images), strict=True):
        top = probabilities.argsort()[::-1][:3]
        others = ", ".join(f"{k}: {probabilities[k]:.3f}" for k in top[1:])
        print(f"{path}: {top[0]} (probability {probabilities[top[0]]:.3f}; then {others})")
    return 0
