"""``nanocnn train``: train a preset into a run folder, then report on the test set.

``--task digits`` (the default) trains on MNIST; ``--task age`` regresses age from the UTKFace
faces in ``--data-dir``. Options left out take the task's defaults (those of ``TrainOptions``
and ``AgeOptions``).
"""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from nanocnn.cli.arguments import positive_float, positive_int
from nanocnn.presets import AGE_PRESETS, PRESETS

if TYPE_CHECKING:
    from nanocnn.jobs.common import TrainOptions

Options = TypeVar("Options", bound="TrainOptions")  # TrainOptions or AgeOptions


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "train",
        help="train a model on MNIST digits or UTKFace ages and report on it",
        description="Train a model from scratch; writes the model, history, test metrics "
        "and plots into a run folder.",
    )
    parser.add_argument(
        "--task",
        choices=["digits", "age"],
        default="digits",
        help="digits: classify MNIST (default); age: predict age from UTKFace faces",
    )
    parser.add_argument(
        "--model",
        choices=sorted(PRESETS) + sorted(AGE_PRESETS),
        help="default: cnn for digits, age_cnn for age",
    )
    parser.add_argument("--epochs", type=positive_int, help="default: the model's own")
    parser.add_argument("--batch-size", type=positive_int, help="default: the model's own")
    parser.add_argument("--lr", type=positive_float, help="starting learning rate")
    parser.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    parser.add_argument(
        "--schedule",
        choices=["cosine", "step", "plateau", "none"],
        default="cosine",
        help="learning-rate schedule (default: cosine, per batch)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="digits: MNIST files (default: the bundled copy); age: the UTKFace folder (needed)",
    )
    parser.add_argument("--out", type=Path, help="run folder (default: runs/MODEL)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        help="random small shifts and rotations, and for digits scaling, for age mirroring, "
        "brightness and contrast (default: the model's recipe; on for cnn)",
    )
    parser.add_argument(
        "--val-split", type=float, help="held-out fraction (default: 1/12 digits, 1/9 age)"
    )
    parser.add_argument(
        "--patience", type=int, default=0, help="early stopping patience in epochs (0: off)"
    )
    parser.add_argument("--limit", type=positive_int, help="use only this many images")
    parser.add_argument(
        "--image-size", type=positive_int, help="age: faces are resized to this (default: 128)"
    )
    parser.add_argument(
        "--loss",
        choices=["l1", "mse", "huber"],
        help="age: loss on the standardised age (default: l1)",
    )
    return parser


def run(args: argparse.Namespace) -> int:
    from nanocnn.jobs.age import AgeOptions, train_age
    from nanocnn.jobs.common import TrainOptions
    from nanocnn.jobs.digits import train_digits

    if args.task == "age":
        train_age(options_from(args, AgeOptions))
        return 0
    digit_options = {field.name for field in fields(TrainOptions)}
    age_only = [field.name for field in fields(AgeOptions) if field.name not in digit_options]
    misplaced = [f"--{name.replace('_', '-')}" for name in age_only if getattr(args, name)]
    if misplaced:
        raise ValueError(f"{', '.join(misplaced)}: only for --task age")
    train_digits(options_from(args, TrainOptions))
    return 0


def options_from(args: argparse.Namespace, kind: type[Options]) -> Options:
    """The dataclass ``kind`` filled with the arguments given; the others keep its defaults."""
    given = {field.name: getattr(args, field.name, None) for field in fields(kind)}
    return kind(**{name: value for name, value in given.items() if value is not None})
