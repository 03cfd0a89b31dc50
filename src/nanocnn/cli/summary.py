"""``nanocnn summary``: the layers, output shapes and parameter counts of a saved model."""

from __future__ import annotations

import argparse

from nanocnn.cli.arguments import model_file

MAX_SIDE = 4096  # input shapes larger than this are not run through the model to show shapes


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("summary", help="layers, shapes and parameters of a model file")
    parser.add_argument(
        "model_file", type=model_file, metavar="MODEL", help="a model file or run folder"
    )
    return parser


def run(args: argparse.Namespace) -> int:
    from nanocnn.io import load
    from nanocnn.job.options import option_flag

    model = load(args.model_file)
    input_shape = model.metadata.get("input_shape")
    shape_ok = (
        isinstance(input_shape, list)
        and 1 <= len(input_shape) <= 3
        and all(isinstance(n, int) and 0 < n <= MAX_SIDE for n in input_shape)
    )
    if shape_ok and isinstance(input_shape, list):
        print(model.summary(tuple(input_shape)))
    else:
        print(model)
        print(
            "(no output shapes: the file does not say its input shape; set "
            "model.metadata['input_shape'] = [C, H, W] before saving)"
        )
    for key, value in model.metadata.items():
        if key == "training_options" and isinstance(value, dict):
            value = " ".join(option_flag(k, v) for k, v in value.items() if v is not None)
        if key != "input_shape":
            print(f"{key}: {value}")
    return 0
