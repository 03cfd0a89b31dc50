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
from dataclasses import replace
from typing import Any

from nanocnn.augment import Augment
from nanocnn.errors import NonFiniteLossError
from nanocnn.inputs import Inputs
from nanocnn.io import load
from nanocnn.job.options import TrainOptions, kept_options, resume_command
from nanocnn.job.run_folder import RunFolder
from nanocnn.job.setup import make_callbacks, make_optimizer, plan
from nanocnn.layers import Sequential
from nanocnn.losses import Loss
from nanocnn.parallel import Workers
from nanocnn.tasks.base import Pair
from nanocnn.training import EarlyStopping, ModelCheckpoint, Trainer
from nanocnn.training.metrics import Metric
from nanocnn.training.split import held_out_count


def train(options: TrainOptions, workers: Workers | None = None) -> dict[str, Any]:
    """Train a preset on the task's data into a run folder, over ``workers`` (the ranks of
    the run: by default this process alone); returns the final test report."""
    workers = Workers() if workers is None else workers
    setup = plan(options, workers.size)
    chosen = None
    if workers.is_root:
        chosen = RunFolder.choose(options.out, setup.name, options.resume, options.overwrite)
    # rank 0's choice, which may be a new runs/<name>-N
    run = RunFolder(workers.broadcast(None if chosen is None else chosen.path))
    data = setup.load(workers)
    count = len(data.train[0])
    if data.validation is None and setup.val_split == 0:
        held_out = "no validation: the last epoch is kept"
    elif data.validation is None:
        held = held_out_count(count, setup.val_split)
        if held >= count:
            raise ValueError(
                f"{count} training sample(s) leave none to train on once {held} are held out "
                f"for validation: use more (--limit) or --val-split 0"
            )
        count, held_out = count - held, f"{held:,} held out for validation"
    else:
        held_out = f"{len(data.validation[0]):,} in the validation folder"
    on = "" if workers.size == 1 else f" on {workers.size} workers"
    workers.say(
        f"training {setup.name}{on} on {count:,} {data.description} ({held_out}) into {run.path}"
    )
    model = setup.model()
    trainer = setup.trainer(model, run, workers)
    if workers.is_root and not options.resume:
        run.keep_options(kept_options(setup.given))
    start = time.perf_counter()
    epochs = setup.options.epochs or 1
    run_training(trainer, run, setup.given, data.train, epochs, data.validation, setup.val_split)
    seconds = time.perf_counter() - start

    report: dict[str, Any] = {}
    if workers.is_root:
        report = setup.task.evaluate(load(run.model_file), data.test, run.path)
        details = {"train_images": len(data.train[0]), "workers": workers.size,
                   **setup.recorded(), **selection(trainer)}  # fmt: skip
        run.record(report, trainer, seconds, **details)
        print(f"{setup.task.format_report(report)}\n{run.footer(report)}")
    return workers.broadcast(report)


def selection(trainer: Trainer) -> dict[str, Any]:
    """Which epoch's weights the run keeps (the best by the monitored figure) and whether
    early stopping ended it, for the report."""
    best = next(c for c in trainer.callbacks if isinstance(c, ModelCheckpoint)).tracker
    stopped = any(isinstance(c, EarlyStopping) and c.wait >= c.patience for c in trainer.callbacks)
    return {"best_epoch": best.best_epoch, "monitor": best.monitor, "stopped_early": stopped}


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
    """A trainer as a run's, for a model and loss of your own: ``options``' optimizer and
    schedule, the run folder's best-model file and checkpoint, with the ``recorded`` options
    (which must hold ``epochs``, ``lr`` and ``batch_size``) kept in the model's metadata."""
    model.metadata["training_options"] = recorded
    options = replace(options, epochs=recorded["epochs"])
    return Trainer(
        model,
        loss_fn,
        make_optimizer(
            options.optimizer or "adam", model, recorded["lr"], options.weight_decay or 0.0
        ),
        batch_size=recorded["batch_size"],
        callbacks=make_callbacks(options, run, monitor),
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
                f"{run.checkpoint_file}; continue with: "
                f"{resume_command(options, run.path, trainer.workers.size)}",
                file=sys.stderr,
            )
        raise
    except NonFiniteLossError as error:
        if trainer.saved_epoch is None:
            raise
        kept = f"the state after epoch {trainer.saved_epoch} is kept in {run.checkpoint_file}"
        raise NonFiniteLossError(f"{error}; {kept}") from error
