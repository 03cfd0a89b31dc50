"""``nanocnn train`` for every task: one skeleton, the task fills in what differs.

    options = TrainOptions(task="images", data_dir=Path("photos"), epochs=10)
    report = train(options)   # the test report, also in the run folder's metrics.json

The task (:mod:`nanocnn.tasks`) loads the data, says how many outputs the network needs,
its loss, augmentation and monitored figure, and evaluates the best model at the end; the
preset (:mod:`nanocnn.presets`) gives the architecture, built for the data's input shape, and
its recipe; the run folder (:class:`RunFolder`) keeps everything the run writes.

Under ``mpiexec`` with more than one rank the job trains data-parallel
(:mod:`nanocnn.training.distributed`): every rank loads the data and trains its share of each
batch; rank 0 alone chooses and writes the run folder, prints, and evaluates on the test set.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from nanocnn.errors import NonFiniteLossError
from nanocnn.losses import Loss
from nanocnn.model import Sequential
from nanocnn.optim import SGD, Adam, Optimizer, norms_and_biases
from nanocnn.persistence import load_model
from nanocnn.presets import PRESETS, build
from nanocnn.tasks import TASKS, Task, get_task
from nanocnn.tasks.base import Inputs, Pair, input_converter
from nanocnn.training.callbacks import Callback, EarlyStopping, ModelCheckpoint
from nanocnn.training.distributed import Workers, sharing_the_loading
from nanocnn.training.progress import Style
from nanocnn.training.run_folder import RunFolder, option_flag
from nanocnn.training.schedules import CosineLR, OneCycleLR, ReduceLROnPlateau, StepLR
from nanocnn.training.trainer import Augment, Trainer, held_out_count

# what a preset's recipe chooses (nanocnn.presets.Preset), unless an option says otherwise
RECIPE = ("epochs", "lr", "batch_size", "augment", "optimizer", "schedule", "weight_decay",
          "label_smoothing")  # fmt: skip
# where and how, not what is trained
NOT_RECORDED = ("out", "resume", "progress", "data_dir", "check_weights")


@dataclass
class TrainOptions:
    """The options of ``nanocnn train``; None means the task's or the preset's default."""

    task: str = "digits"
    model: str | None = None
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    optimizer: Literal["adam", "sgd"] | None = None  # None: the preset's (adam; sgd for resnet)
    schedule: Literal["cosine", "onecycle", "step", "plateau", "none"] | None = None
    weight_decay: float | None = None  # skipping norms and biases; None: the preset's
    label_smoothing: float | None = None  # of a classifier's loss; None: the preset's
    seed: int = 0
    data_dir: Path | None = None
    out: Path | None = None
    resume: bool = False
    augment: bool | None = None  # None: the preset's own choice
    val_split: float | None = None  # None: the task's (1/12 of MNIST: 5,000 images)
    patience: int = 0  # early stopping after this many epochs without progress; 0 = off
    limit: int | None = None  # train on this many images only (quick trials, tests)
    progress: Style = "auto"
    check_weights: int = 0  # data-parallel: compare the ranks' weights every N steps; 0 = off
    task_options: dict[str, Any] = field(default_factory=dict)  # the task's own (Task.options)


def train(options: TrainOptions) -> dict[str, Any]:
    """Train a preset on the task's data into a run folder; returns the final test report."""
    task = get_task(options.task)
    options = replace(options, task_options=task_options(task, options.task_options))
    name = options.model or task.default_model
    if name not in PRESETS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(PRESETS)}")
    recipe = {**asdict(PRESETS[name]), **task.recipes.get(name, {})}
    val_split = task.val_split if options.val_split is None else options.val_split
    if not 0.0 < val_split < 1.0:
        raise ValueError(f"--val-split must be between 0 and 1, got {val_split}")
    # each recipe choice as given, else the preset's (or the task's change of it)
    chosen = {key: recipe[key] if getattr(options, key) is None else getattr(options, key)
              for key in RECIPE}  # fmt: skip
    given, options = options, replace(options, **chosen)
    workers = Workers.from_environment()
    root = workers is None or workers.is_root
    say = print if root else _quiet
    run = RunFolder.choose(options.out, name, options.resume) if root else None
    if workers is not None:  # rank 0's choice, which may be a new runs/<name>-N
        run = RunFolder(workers.broadcast(None if run is None else run.path))
    assert run is not None
    with sharing_the_loading(workers):  # picture folders: each rank decodes a share
        data = task.load(options)
    count = len(data.train[0])
    if data.validation is None:
        held = held_out_count(count, val_split)
        count, held_out = count - held, f"{held:,} held out for validation"
    else:
        held_out = f"{len(data.validation[0]):,} in the validation folder"
    on = "" if workers is None else f" on {workers.size} workers"
    say(f"training {name}{on} on {count:,} {data.description} ({held_out}) into {run.path}")

    model = build(name, data.metadata["input_shape"], task.outputs(data), options.seed)
    model.metadata.update(task=task.name, **data.metadata)
    recorded = recorded_options(options, model=name, val_split=val_split)
    trainer = make_trainer(
        model, task.loss(options), options, run, recorded,
        monitor=task.monitor,
        augment=task.augment(data) if options.augment else None,
        inputs=input_converter(model.metadata),
        target_scale=task.target_scale(model.metadata),
        workers=workers,
    )  # fmt: skip
    start = time.perf_counter()
    run_training(trainer, run, given, data.train, chosen["epochs"], data.validation, val_split)
    seconds = time.perf_counter() - start

    report: dict[str, Any] = {}
    if root:
        report = task.evaluate(load_model(run.model_file), data.test, run.path)
        workers_count = 1 if workers is None else workers.size
        details = {"train_images": len(data.train[0]), "workers": workers_count, **recorded}
        run.record(report, trainer, seconds, **details)
        print(f"{task.format_report(report)}\n{run.footer(report)}")
    return report if workers is None else workers.broadcast(report)


def _quiet(*args: Any, **kwargs: Any) -> None:
    """``print`` on the ranks that do not print (all but rank 0)."""


def make_trainer(
    model: Sequential,
    loss_fn: Loss,
    options: TrainOptions,
    run: RunFolder,
    recorded: dict[str, Any],
    *,
    monitor: str = "val_loss",
    augment: Augment | None = None,
    inputs: Inputs | None = None,
    target_scale: float = 1.0,
    workers: Workers | None = None,
) -> Trainer:
    """The trainer of a run: ``options``' optimizer and schedule, the run folder's best-model
    file and checkpoint, with the ``recorded`` options (which must hold ``epochs``, ``lr``
    and ``batch_size``) kept in the model's metadata; data-parallel over ``workers``."""
    model.metadata["training_options"] = recorded
    return Trainer(
        model,
        loss_fn,
        make_optimizer(
            options.optimizer or "adam", model, recorded["lr"], options.weight_decay or 0.0
        ),
        batch_size=recorded["batch_size"],
        callbacks=make_callbacks(options, run, recorded["epochs"], monitor),
        seed=options.seed,
        augment=augment,
        inputs=inputs,
        progress=options.progress,
        target_scale=target_scale,
        checkpoint=run.checkpoint_file,
        workers=workers,
        check_weights=options.check_weights,
    )


def run_training(
    trainer: Trainer,
    run: RunFolder,
    options: TrainOptions,
    train: Pair,
    epochs: int,
    validation: Pair | None = None,
    val_split: float = 0.0,
) -> None:
    """Train in the run folder: resume from its checkpoint if ``options.resume`` (refused
    when the run was started with other options than the model's ``training_options``),
    then ``trainer.fit``. An interrupt or a diverged run says what is saved (by rank 0 of a
    data-parallel run; every rank reads the checkpoint)."""
    say = print if trainer.writes_files else _quiet
    if trainer.writes_files:
        run.path.mkdir(parents=True, exist_ok=True)
    if options.resume:
        run.resume(trainer, trainer.model.metadata.get("training_options", {}))
        say(f"resuming {run.path} after epoch {trainer.epoch}", flush=True)
    try:
        if validation is not None:
            trainer.fit(*train, epochs, validation_data=validation)
        else:
            trainer.fit(*train, epochs, validation_split=val_split)
    except KeyboardInterrupt:
        if trainer.saved_epoch is None:
            say("\ninterrupted before the first epoch ended: nothing saved", file=sys.stderr)
        else:
            say(
                f"\ninterrupted: the state after epoch {trainer.saved_epoch} is saved in "
                f"{run.checkpoint_file}; continue with: {resume_command(options, run.path)}",
                file=sys.stderr,
            )
        raise
    except NonFiniteLossError as error:
        if trainer.saved_epoch is None:
            raise
        kept = f"the state after epoch {trainer.saved_epoch} is kept in {run.checkpoint_file}"
        raise NonFiniteLossError(f"{error}; {kept}") from error


def task_options(task: Task, given: dict[str, Any]) -> dict[str, Any]:
    """Every option of ``task``, as ``given`` or else its default. An option given that the
    task does not have is refused by name (with the tasks that do have it)."""
    known = {option.name: option for option in task.options}
    for name, value in given.items():
        if value is not None and name not in known:
            owners = [other.name for other in TASKS.values() if name in other.option_names()]
            raise ValueError(
                f"{option_flag(name, value).split()[0]} is not an option of the {task.name} "
                f"task (it is for --task {' or '.join(owners)})"
            )
    return {
        name: option.default if given.get(name) is None else given[name]
        for name, option in known.items()
    }


def make_optimizer(name: str, model: Sequential, lr: float, weight_decay: float = 0.0) -> Optimizer:
    """Adam, or SGD with Nesterov momentum 0.9; weight decay skips norms and biases."""
    no_decay = norms_and_biases  # nothing to skip when weight_decay is 0
    if name == "adam":
        return Adam(model.parameters(), lr=lr, weight_decay=weight_decay, no_decay=no_decay)
    if name == "sgd":
        return SGD(
            model.parameters(), lr=lr, momentum=0.9, nesterov=True,
            weight_decay=weight_decay, no_decay=no_decay,
        )  # fmt: skip
    raise ValueError(f"unknown optimizer {name!r}; choose adam or sgd")


def make_callbacks(
    options: TrainOptions, run: RunFolder, epochs: int, monitor: str
) -> list[Callback]:
    """The best-model file and early stopping (both judging by ``monitor``) and the
    learning-rate schedule."""
    callbacks: list[Callback] = [ModelCheckpoint(run.model_file, monitor=monitor)]
    schedules: dict[str, Callback | None] = {
        "cosine": CosineLR(),
        "onecycle": OneCycleLR(),
        "step": StepLR(step_size=max(1, epochs // 3), gamma=0.1),
        "plateau": ReduceLROnPlateau(patience=1, factor=0.3),
        "none": None,
    }
    name = options.schedule or "cosine"
    if name not in schedules:
        raise ValueError(f"unknown schedule {name!r}; choose one of {list(schedules)}")
    if (schedule := schedules[name]) is not None:
        callbacks.append(schedule)
    if options.patience:
        callbacks.append(EarlyStopping(monitor, patience=options.patience))
    return callbacks


def recorded_options(options: TrainOptions, **resolved: Any) -> dict[str, Any]:
    """The options that decide what a run computes, with the defaults it used filled in
    (``resolved``): saved in the model's metadata, so in every checkpoint and model file."""
    recorded = {
        k: v for k, v in asdict(options).items() if k not in (*NOT_RECORDED, "task_options")
    }
    recorded.update({k: v for k, v in options.task_options.items() if v is not None})
    return {**recorded, **resolved}


def resume_command(options: TrainOptions, out: Path) -> str:
    """The command that continues this run: ``--resume``, ``--out`` and every option given
    that is not the default."""
    words = option_words(options, skip=("out", "resume", "progress"))
    return " ".join(["nanocnn train --resume", option_flag("out", out), *words])


def option_words(options: TrainOptions, skip: tuple[str, ...] = ("progress",)) -> list[str]:
    """The ``nanocnn train`` flags that give ``options``: one per option given that is not
    the default (nor in ``skip``), as ``option_flag`` spells it."""
    defaults = asdict(TrainOptions())
    given = {k: v for k, v in asdict(options).items() if k != "task_options"}
    given.update(options.task_options)
    return [
        option_flag(name, value)
        for name, value in given.items()
        if name not in skip and value not in (None, defaults.get(name))
    ]
