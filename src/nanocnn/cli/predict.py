"""``nanocnn predict``: classify digit images, or tell the age of faces, with a saved model.

The model file knows its task (``metadata["task"]``): a digits model prints each image's class
and probabilities, an age model each face's age in years.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "predict",
        help="classify digit images or tell the age of faces (PNG, JPG...)",
        description="Digits models: each image is turned into a 28x28 MNIST-style digit "
        "(grayscale, light ink on dark, cropped, scaled to 20x20, centred by mass) and "
        "classified. Age models: each face is read as RGB, resized to the model's image size "
        "and its age predicted in years.",
    )
    parser.add_argument("model_file", type=Path, metavar="MODEL_FILE")
    parser.add_argument("images", type=Path, nargs="+", metavar="IMAGE")
    return parser


def run(args: argparse.Namespace) -> int:
    from nanocnn.errors import ModelFileError
    from nanocnn.jobs.age import predict_age
    from nanocnn.jobs.digits import classify_digits
    from nanocnn.model import load

    model = load(args.model_file)
    task = model.metadata.get("task")
    if task == "digits":
        probabilities = classify_digits(model, args.images)  # (N, 10)
        for path, p in zip(args.images, probabilities, strict=True):
            top = p.argsort()[::-1][:3]
            others = ", ".join(f"{k}: {p[k]:.3f}" for k in top[1:])
            print(f"{path}: {top[0]} (probability {p[top[0]]:.3f}; then {others})")
    elif task == "age":
        for path, age in zip(args.images, predict_age(model, args.images), strict=True):
            print(f"{path}: age {age:.1f} years")
    else:
        raise ModelFileError(f"{args.model_file}: a model for task {task!r}, not digits or age")
    return 0
