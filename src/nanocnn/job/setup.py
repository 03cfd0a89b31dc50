"""What a run of a preset on a task's data is made of, before it trains: shared by ``nanocnn
train``, ``lr-find`` and ``tune``.

    setup = plan(options)            # the task, the preset, the checks that need no data
    setup.load(workers)              # the data, and the recipe fitted to it
    model, trainer = setup.model(), setup.trainer(model, run)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from nanocnn.errors import DataError
from nanocnn.inputs import input_converter
from nanocnn.job.options import TrainOptions, option_flag, recorded_options
from nanocnn.job.recipe import augment_names, resolve_recipe
from nanocnn.layers import Sequential
from nanocnn.optim import OPTIMIZERS, Optimizer, norms_and_biases
from nanocnn.parallel import Workers
from nanocnn.presets import PRESETS, build
from nanocnn.tasks import TASKS, Task, TaskData, get_task
from nanocnn.training import SCHEDULES, Callback, EarlyStopping, ModelCheckpoint, Trainer
from nanocnn.training.budget import TimeBudget
from nanocnn.training.snapshots import SNAPSHOTS_FILE, Snapshots

if TYPE_CHECKING:
    from nanocnn.job.run_folder import RunFolder


@dataclass
class Setup:
    """A run's task, preset (``name``) and options, as given and with the recipe resolved
    once the data is loaded (:meth:`load`)."""

    task: Task
    name: str
    given: TrainOptions
    val_split: float
    options: TrainOptions
    data: TaskData | None = None

    def load(self, workers: Workers | None = None) -> TaskData:
        """Load the task's data (the ``workers`` of a data-parallel run may share the
        work) and fit the recipe to it."""
        self.data = self.task.load(self.given.for_task(workers))
        self.options = resolve_recipe(self.given, self.task, self.name, self.data, self.val_split)
        return self.data

    def reuse(self, name: str, given: TrainOptions) -> Setup:
        """This run's task and loaded data with the preset ``name`` and the options ``given``,
        the recipe fitted to the data again (a tuning trial)."""
        data = self._data()
        options = resolve_recipe(given, self.task, name, data, self.val_split)
        return Setup(self.task, name, given, self.val_split, options, data)

    def model(self) -> Sequential:
        """The preset built for the data, with fresh weights from the seed and the metadata
        a model file of this run carries (its recorded options among them)."""
        data = self._data()
        model = build(self.name, data.metadata["input_shape"], self.task.outputs(data),
                      self.options.seed)  # fmt: skip
        model.metadata.update(task=self.task.name, **data.metadata)
        model.metadata["training_options"] = self.recorded()
        return model

    def recorded(self) -> dict[str, Any]:
        """The options that decide what this run computes, defaults filled in."""
        return recorded_options(self.options, model=self.name, val_split=self.val_split)

    def trainer(
        self,
        model: Sequential,
        run: RunFolder | None = None,
        workers: Workers | None = None,
        callbacks: tuple[Callback, ...] = (),
    ) -> Trainer:
        """The trainer of ``model``: the recipe's optimizer, schedule, augmentation and early
        stopping, the task's loss and metric; with a ``run`` folder, its best-model file,
        checkpoint and snapshots of the first filters; ``callbacks`` first."""
        options, data = self.options, self._data()
        convert = input_converter(model.metadata)
        if run is not None:  # the first filters after every epoch, for the app's slider
            first = data.train[0][:1]
            sample = (first if convert is None else convert(first))[0]
            callbacks = (*callbacks, Snapshots(run.path / SNAPSHOTS_FILE, sample))
        return Trainer(
            model,
            self.task.loss(options.for_task()),
            make_optimizer(
                options.optimizer or "adam", model, options.lr or 1e-3, options.weight_decay or 0.0
            ),
            batch_size=options.batch_size or 64,
            callbacks=[*callbacks, *make_callbacks(options, run, self.monitor())],
            seed=options.seed,
            augment=self.task.augment(data, augment_names(options.augment)),
            inputs=convert,
            metric=self.task.metric(model.metadata),
            progress=options.progress,
            checkpoint=None if run is None else run.checkpoint_file,
            workers=workers,
            check_weights=options.check_weights,
        )

    def monitor(self) -> str:
        """The figure that picks the best epoch: the task's validation figure, or without
        validation (``--val-split 0``) the training one (the last epoch is kept)."""
        validated = self.val_split > 0 or self._data().validation is not None
        return self.task.monitor if validated else self.task.monitor.removeprefix("val_")

    def _data(self) -> TaskData:
        if self.data is None:
            raise DataError("the run's data is not loaded: call Setup.load first")
        return self.data


def plan(options: TrainOptions, workers: int = 1) -> Setup:
    """The task and preset ``options`` name, with every check that needs no data done, for a
    run over ``workers`` ranks: an unknown task, preset or option of the task, a validation
    share out of range, a given batch too small to share among the workers. ``nanocnn train
    --workers`` makes them (and chooses the run folder) before it starts a rank."""
    task = get_task(options.task)
    given = replace(options, task_options=task_options(task, options.task_options))
    name = given.model or task.default_model
    if name not in PRESETS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(PRESETS)}")
    val_split = task.val_split if given.val_split is None else given.val_split
    if not 0.0 <= val_split < 1.0:
        raise ValueError(f"--val-split must be at least 0 and below 1, got {val_split}")
    if val_split == 0 and given.patience:
        raise ValueError("--patience watches the validation loss: it needs --val-split above 0")
    if given.batch_size is not None and given.batch_size < workers:
        raise ValueError(
            f"the batch of {given.batch_size} is smaller than the {workers} workers: each "
            f"needs a share of every batch (--batch-size {workers} or more)"
        )
    return Setup(task, name, given, val_split, given)


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


def make_callbacks(options: TrainOptions, run: RunFolder | None, monitor: str) -> list[Callback]:
    """A time budget (first: the schedule anneals over what it estimates), the best-model
    file of the ``run`` folder and early stopping (both judging by ``monitor``), and the
    learning-rate schedule (:data:`nanocnn.training.SCHEDULES`) over ``options.epochs``."""
    callbacks: list[Callback] = [] if options.time is None else [TimeBudget(options.time)]
    if run is not None:  # without validation, the last epoch's model (training figures fall)
        validated = monitor.startswith("val_")
        callbacks.append(ModelCheckpoint(run.model_file, monitor, save_best_only=validated))
    name = options.schedule or "cosine"
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; choose one of {', '.join(SCHEDULES)}")
    if (schedule := SCHEDULES[name](options.epochs or 1)) is not None:
        callbacks.append(schedule)
    if options.patience:
        callbacks.append(EarlyStopping(monitor, patience=options.patience))
    return callbacks
