"""The options of a run of a preset on a task's data, as the commands that make one (``train``,
``lr-find``, ``tune``) spell them, and the ``TrainOptions`` they give."""

from __future__ import annotations

import argparse
from collections import defaultdict
from dataclasses import fields
from pathlib import Path
from typing import Any

from nanocnn import augment
from nanocnn.cli.arguments import (
    augmentation,
    duration,
    non_negative_int,
    positive_float,
    positive_int,
)
from nanocnn.optim import OPTIMIZERS
from nanocnn.presets import PRESETS
from nanocnn.tasks import TASKS, Option
from nanocnn.training import SCHEDULES


def add_data_options(parser: argparse.ArgumentParser) -> None:
    """What is trained on what: ``--task``, ``--model``, ``--data-dir``, ``--seed``,
    ``--limit`` and the tasks' own options."""
    parser.add_argument(
        "--task",
        choices=list(TASKS),
        help="; ".join(f"{name}: {task.help}" for name, task in TASKS.items())
        + " (default: digits)",
    )
    parser.add_argument(
        "--model",
        choices=list(PRESETS),
        help="the architecture (default: the task's, cnn for digits and images, age_cnn for age)",
    )
    parser.add_argument(
        "--seed", type=non_negative_int, help="of every random draw of the run (default: 0)"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help=data_dir_help(),
    )
    parser.add_argument("--limit", type=positive_int, help="use only this many images")
    add_task_options(parser)


def add_recipe_options(parser: argparse.ArgumentParser) -> None:
    """How it is trained: each choice of the recipe, by default the preset's."""
    parser.add_argument("--epochs", type=positive_int, help="default: the model's own")
    parser.add_argument("--batch-size", type=positive_int, help="default: the model's own")
    parser.add_argument("--lr", type=positive_float, help="starting learning rate")
    parser.add_argument(
        "--optimizer",
        choices=list(OPTIMIZERS),
        help="default: the model's recipe (adam; sgd with Nesterov momentum for resnet)",
    )
    parser.add_argument(
        "--schedule",
        choices=list(SCHEDULES),
        help="learning-rate schedule, per batch (default: the model's: cosine; onecycle for "
        "resnet)",
    )
    parser.add_argument(
        "--weight-decay",
        type=float,
        help="L2 weight decay as PyTorch's SGD and Adam apply it, skipping norms and biases "
        "(default: the model's)",
    )
    parser.add_argument(
        "--label-smoothing",
        type=float,
        help="classifiers: PyTorch's label smoothing (default: the model's; 0.1 for resnet)",
    )
    parser.add_argument(
        "--augment",
        nargs="?",
        const="auto",
        type=augmentation,
        metavar="NAMES",
        help="random changes of the training pictures: alone, the task's choice for the data "
        "(the digits' rotations for MNIST-like digits; shifts and brightness for pictures; "
        "flips, shifts and rotations for faces); or the ones named, comma-separated, from "
        f"{', '.join(augment.STEPS)}, e.g. --augment flip,shift (default: the model's recipe)",
    )
    parser.add_argument(
        "--no-augment", dest="augment", action="store_const", const="none", help="no augmentation"
    )
    parser.add_argument(
        "--time",
        type=duration,
        metavar="DURATION",
        help="a training budget (90s, 10m, 1h30m): the learning-rate schedule spans it and "
        "training stops when it is spent (default: a number of epochs)",
    )
    parser.add_argument(
        "--val-split", type=float, help="held-out fraction (default: the task's; 1/12 digits)"
    )
    parser.add_argument(
        "--patience",
        type=int,
        help="stop when the validation loss has not improved for this many epochs, keeping "
        "the best epoch's weights (0: never; default: the model's recipe)",
    )


def add_task_options(parser: argparse.ArgumentParser) -> None:
    """One flag for each option some task adds; its help says which tasks take it."""
    owners: dict[str, list[tuple[str, Option]]] = defaultdict(list)
    for task in TASKS.values():
        for option in task.options:
            owners[option.name].append((task.name, option))
    for name, uses in owners.items():
        option = uses[0][1]
        parser.add_argument(
            "--" + name.replace("_", "-"),
            type=positive_int if option.type is int else option.type,
            choices=[option.type(choice) for choice in option.choices] if option.choices else None,
            help="; ".join(f"{task}: {use.help}{default(use)}" for task, use in uses),
        )


def data_dir_help() -> str:
    """What ``--data-dir`` is for each task, in the tasks' own words."""
    return "; ".join(f"{name}: {task.data_dir_help}" for name, task in TASKS.items())


def default(option: Option) -> str:
    return "" if option.default is None else f" (default: {option.default})"


def train_options(args: argparse.Namespace, kept: dict[str, Any] | None = None) -> Any:
    """The ``TrainOptions`` the parsed ``args`` give; those not given are ``kept``'s (a run
    folder's options, for --resume), else None: the recipe's."""
    from nanocnn.job import TrainOptions

    common = {field.name for field in fields(TrainOptions)} - {"task_options"}
    given = {name: getattr(args, name) for name in common if getattr(args, name, None) is not None}
    task_names = {option.name for task in TASKS.values() for option in task.options}
    task_options = {name: getattr(args, name, None) for name in task_names}
    kept = dict(kept or {})
    recorded_task_options = kept.pop("task_options", None) or {}
    task_options = {
        name: recorded_task_options.get(name) if value is None else value
        for name, value in task_options.items()
    }
    return TrainOptions(**{**kept, **given}, task_options=task_options)
