"""``nanocnn predict``: what a saved model says of each image, in its task's words.

A classifier names the likeliest classes (``photo.jpg: dog (0.930), cat (0.050), ...``), an
age model the age in years. Each image gets its line; one that cannot be read gets an error
line on stderr instead, and the exit status is 2 at the end if any failed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "predict",
        help="what a model says of each image (PNG, JPG...)",
        description="Each image is prepared as the model's task prepares its data (digits: "
        "grayscale, light ink on dark, cropped, scaled to 20x20, centred by mass in 28x28; "
        "pictures: cropped to a square, resized and normalised; faces: RGB, resized) and "
        "given to the model.",
    )
    parser.add_argument("model_file", type=Path, metavar="MODEL_FILE")
    parser.add_argument("images", type=Path, nargs="+", metavar="IMAGE")
    return parser


def run(args: argparse.Namespace) -> int:
    from nanocnn.cli.arguments import load_with_task
    from nanocnn.errors import DataError

    model, task = load_with_task(args.model_file)
    failed = 0
    for image in args.images:
        try:
            print(f"{image}: {task.predict_one(model, image)}", flush=True)
        except DataError as error:
            failed += 1
            message = str(error)
            named = message if message.startswith(str(image)) else f"{image}: {message}"
            print(f"nanocnn predict: error: {named}", file=sys.stderr, flush=True)
    return 2 if failed else 0
