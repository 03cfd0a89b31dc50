"""``nanocnn train``: train a preset on a task's data into a run folder, then report on the
test set. The options every task shares come from ``TrainOptions``; each task adds its own
(``Task.options``), and an option given to a task that lacks it is refused by name.

``--workers N`` trains data-parallel on this machine: it runs the same command under the
installed MPI's ``mpiexec -n N``. Started by an ``mpiexec`` of one's own (a cluster), each
rank finds the world size itself, and an error on any rank ends the whole job.
"""

from __future__ import annotations

import argparse
import shlex
from collections import defaultdict
from dataclasses import fields
from pathlib import Path

from nanocnn.cli.arguments import positive_float, positive_int
from nanocnn.optim import OPTIMIZERS
from nanocnn.presets import PRESETS
from nanocnn.tasks import TASKS, Option
from nanocnn.training import SCHEDULES


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "train",
        help="train a model on digits, your own pictures or faces, and report on it",
        description="Train a model from scratch; writes the model, history, test metrics "
        "and plots into a run folder.",
    )
    parser.add_argument(
        "--task",
        choices=list(TASKS),
        default="digits",
        help="; ".join(f"{name}: {task.help}" for name, task in TASKS.items()),
    )
    parser.add_argument(
        "--model",
        choices=list(PRESETS),
        help="the architecture (default: the task's, cnn for digits and images, age_cnn for age)",
    )
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
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--data-dir",
        type=Path,
        help=data_dir_help(),
    )
    parser.add_argument("--out", type=Path, help="run folder (default: runs/MODEL)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        help="random changes of the training pictures, as suits the task: small shifts, "
        "rotations and scaling for digits; crops, mirroring and brightness for pictures "
        "and faces (default: the model's recipe; on for cnn)",
    )
    parser.add_argument(
        "--val-split", type=float, help="held-out fraction (default: the task's; 1/12 digits)"
    )
    parser.add_argument(
        "--patience", type=int, default=0, help="early stopping patience in epochs (0: off)"
    )
    parser.add_argument("--limit", type=positive_int, help="use only this many images")
    parser.add_argument(
        "--workers",
        type=positive_int,
        help="train data-parallel in N processes on this machine (MPI, one BLAS thread each; "
        "needs: pip install 'nanocnn[mpi]'); under mpiexec the ranks are the workers",
    )
    parser.add_argument(
        "--check-weights",
        type=positive_int,
        metavar="STEPS",
        help="data-parallel debugging: check that the workers' weights agree every STEPS steps",
    )
    add_task_options(parser)
    return parser


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


def run(args: argparse.Namespace) -> int:
    from nanocnn.job import TrainOptions, option_words, train
    from nanocnn.parallel import Workers, launch, world_size

    common = {field.name for field in fields(TrainOptions)} - {"task_options"}
    given = {name: getattr(args, name) for name in common if getattr(args, name, None) is not None}
    task_names = {option.name for task in TASKS.values() for option in task.options}
    task_options = {name: getattr(args, name) for name in task_names}
    options = TrainOptions(**given, task_options=task_options)
    ranks = world_size()
    if args.workers and ranks > 1 and args.workers != ranks:
        raise ValueError(f"--workers {args.workers}, but mpiexec started {ranks} ranks")
    if args.workers and args.workers > 1 and ranks == 1:
        words = shlex.split(" ".join(option_words(options)))
        return launch(args.workers, [*(["--debug"] if args.debug else []), "train", *words])
    workers = Workers.from_environment()
    with workers.abort_on_error("nanocnn train", traceback=args.debug):
        train(options, workers)
    return 0
