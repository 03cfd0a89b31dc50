"""``nanocnn train`` for every task: one skeleton, the task fills in what differs.

    options = TrainOptions(task="images", data_dir=Path("photos"), epochs=10)
    report = train(options)   # the test report, also in the run folder's metrics.json

The task (:mod:`nanocnn.tasks`) loads the data, says how many outputs the network needs,
its loss, metric, augmentation and monitored figure, and evaluates the best model at the
end; the preset (:mod:`nanocnn.presets`) gives the architecture, built for the data's input
shape, and its recipe; the run folder (:class:`RunFolder`) keeps everything the run writes.

The same path trains in one process or over the ranks of an ``mpiexec`` job (``workers``,
:mod:`nanocnn.parallel`): every rank loads the data (picture folders: a share each) and
trains its share of each batch; rank 0 alone chooses and writes the run folder, prints, and
evaluates on the test set.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, replace
from typing import Any

from nanocnn.augment import Augment
from nanocnn.errors import NonFiniteLossError
from nanocnn.inputs import Inputs, input_converter
from nanocnn.io import load
from nanocnn.job.options import RECIPE, TrainOptions, recorded_options, resume_command
from nanocnn.job.run_folder import RunFolder, option_flag
from nanocnn.layers import Sequential
from nanocnn.losses import Loss
from nanocnn.optim import OPTIMIZERS, Optimizer, norms_and_biases
from nanocnn.parallel import Workers
from nanocnn.presets import PRESETS, build
from nanocnn.tasks import TASKS, Task, get_task
from nanocnn.tasks.base import Pair
from nanocnn.training import SCHEDULES, Callback, EarlyStopping, ModelCheckpoint, Trainer
from nanocnn.training.metrics import Metric
from nanocnn.training.split import held_out_count


def train(options: TrainOptions, workers: Workers | None = None) -> dict[str, Any]:
    """Train a preset on the task's data into a run folder, over ``workers`` (the ranks of
    the run: by default this process alone); returns the final test report."""
    workers = Workers() if workers is None else workers
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
    root = workers.is_root
    chosen_run = RunFolder.choose(options.out, name, options.resume) if root else None
    # rank 0's choice, which may be a new runs/<name>-N
    run = RunFolder(workers.broadcast(None if chosen_run is None else chosen_run.path))
    data = task.load(options.for_task(workers))
    count = len(data.train[0])
    if data.validation is None:
        held = held_out_count(count, val_split)
        count, held_out = count - held, f"{held:,} held out for validation"
    else:
        held_out = f"{len(data.validation[0]):,} in the validation folder"
    on = "" if workers.size == 1 else f" on {workers.size} workers"
    workers.say(f"training {name}{on} on {count:,} {data.description} ({held_out}) into {run.path}")

    model = build(name, data.metadata["input_shape"], task.outputs(data), options.seed)
    model.metadata.update(task=task.name, **data.metadata)
    recorded = recorded_options(options, model=name, val_split=val_split)
    trainer = make_trainer(
        model, task.loss(options.for_task()), options, run, recorded,
        monitor=task.monitor,
        augment=task.augment(data) if options.augment else None,
        inputs=input_converter(model.metadata),
        metric=task.metric(model.metadata),
        workers=workers,
    )  # fmt: skip
    start = time.perf_counter()
    run_training(trainer, run, given, data.train, chosen["epochs"], data.validation, val_split)
    seconds = time.perf_counter() - start

    report: dict[str, Any] = {}
    if root:
        report = task.evaluate(load(run.model_file), data.test, run.path)
        details = {"train_images": len(data.train[0]), "workers": workers.size, **recorded}
        run.record(report, trainer, seconds, **details)
        print(f"{task.format_report(report)}\n{run.footer(report)}")
    return workers.broadcast(report)


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
    metric: Metric | None = None,
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
        metric=metric,
        progress=options.progress,
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
    say = trainer.workers.say
    if trainer.workers.is_root:
        run.path.mkdir(parents=True, exist_ok=True)
    if options.resume:
        run.resume(trainer, trainer.model.metadata.get("training_options", {}))
        say(f"resuming {run.path} after epoch {trainer.epoch}")
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
    """The optimizer ``name`` (:data:`nanocnn.optim.OPTIMIZERS`: adam, adamw, or sgd with
    Nesterov momentum 0.9); weight decay skips norms and biases."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[name](model.parameters(), lr, weight_decay, norms_and_biases)


def make_callbacks(
    options: TrainOptions, run: RunFolder, epochs: int, monitor: str
) -> list[Callback]:
    """The best-model file and early stopping (both judging by ``monitor``) and the
    learning-rate schedule (:data:`nanocnn.training.SCHEDULES`)."""
    callbacks: list[Callback] = [ModelCheckpoint(run.model_file, monitor=monitor)]
    name = options.schedule or "cosine"
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; choose one of {', '.join(SCHEDULES)}")
    if (schedule := SCHEDULES[name](epochs)) is not None:
        callbacks.append(schedule)
    if options.patience:
        callbacks.append(EarlyStopping(monitor, patience=options.patience))
    return callbacks
