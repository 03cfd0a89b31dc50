"""What every training job shares: options, the run folder, optimizer, schedule, callbacks.

A run folder holds ``model.npz`` (the best model so far, by validation loss), ``checkpoint.npz``
(the whole training state after the last finished epoch, for ``--resume``), the history as CSV
and JSON, ``metrics.json`` (the final test figures) and PNG plots.
"""

from __future__ import annotations

import json
import resource
import shlex
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from nanocnn import plots
from nanocnn.errors import ModelFileError, NonFiniteLossError
from nanocnn.losses import Loss
from nanocnn.model import Sequential
from nanocnn.optim import SGD, Adam, Optimizer
from nanocnn.serialization import load_arrays
from nanocnn.training import (
    Callback,
    CosineLR,
    EarlyStopping,
    ModelCheckpoint,
    ReduceLROnPlateau,
    StepLR,
    Trainer,
    TrainingCheckpoint,
)
from nanocnn.training.progress import Style
from nanocnn.training.trainer import Augment

MODEL_FILE, CHECKPOINT_FILE = "model.npz", "checkpoint.npz"
NOT_RECORDED = ("out", "resume", "progress", "data_dir")  # where and how, not what is trained


@dataclass
class TrainOptions:
    """The options of ``nanocnn train``; None means the preset's default."""

    model: str = "cnn"
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    optimizer: Literal["adam", "sgd"] = "adam"
    schedule: Literal["cosine", "step", "plateau", "none"] = "cosine"
    seed: int = 0
    data_dir: Path | None = None
    out: Path | None = None
    resume: bool = False
    augment: bool | None = None  # None: the preset's own choice
    val_split: float = 1 / 12  # 5,000 of MNIST's 60,000 training images
    patience: int = 0  # early stopping after this many epochs without progress; 0 = off
    limit: int | None = None  # train on this many images only (quick trials, tests)
    progress: Style = "auto"


class RunExistsError(FileExistsError):
    """The chosen run folder already holds a run, and ``--resume`` was not given."""


def run_directory(options: TrainOptions) -> Path:
    """The run folder: ``--out``, else the first free of ``runs/<model>``, ``runs/<model>-2``...

    An explicit ``--out`` that already holds a run is refused unless resuming, so that no
    earlier run is overwritten.
    """
    if options.out is not None:
        out = Path(options.out)
        taken = (out / MODEL_FILE).exists() or (out / CHECKPOINT_FILE).exists()
        if options.resume and not (out / CHECKPOINT_FILE).exists():
            raise FileNotFoundError(f"{out / CHECKPOINT_FILE}: no checkpoint to resume from")
        if taken and not options.resume:
            raise RunExistsError(
                f"{out} already holds a run: pass --resume to continue it, "
                f"or choose another folder with --out"
            )
        return out
    if options.resume:
        raise ValueError("--resume needs --out: the run folder to continue")
    base = Path("runs") / options.model
    out, number = base, 1
    while out.exists() and any(out.iterdir()):
        number += 1
        out = base.with_name(f"{base.name}-{number}")
    return out


def make_optimizer(name: str, model: Sequential, lr: float) -> Optimizer:
    if name == "adam":
        return Adam(model.parameters(), lr=lr)
    if name == "sgd":
        return SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True)
    raise ValueError(f"unknown optimizer {name!r}; choose adam or sgd")


def make_callbacks(
    options: TrainOptions, out: Path, epochs: int, monitor: str = "val_loss"
) -> list[Callback]:
    """The best-model checkpoint and early stopping (both judging by ``monitor``), the
    schedule, and last the training checkpoint, so that it saves the others' state after
    their end-of-epoch step."""
    callbacks: list[Callback] = [
        ModelCheckpoint(out / MODEL_FILE, monitor=monitor, save_best_only=True)
    ]
    schedules: dict[str, Callback | None] = {
        "cosine": CosineLR(),
        "step": StepLR(step_size=max(1, epochs // 3), gamma=0.1),
        "plateau": ReduceLROnPlateau(patience=1, factor=0.3),
        "none": None,
    }
    if options.schedule not in schedules:
        raise ValueError(f"unknown schedule {options.schedule!r}; choose one of {list(schedules)}")
    schedule = schedules[options.schedule]
    if schedule is not None:
        callbacks.append(schedule)
    if options.patience:
        callbacks.append(EarlyStopping(monitor, patience=options.patience))
    callbacks.append(TrainingCheckpoint(out / CHECKPOINT_FILE))
    return callbacks


def train_model(
    model: Sequential,
    loss_fn: Loss,
    x: np.ndarray,
    y: np.ndarray,
    options: TrainOptions,
    out: Path,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    augment: Augment | None = None,
    target_scale: float = 1.0,
    monitor: str = "val_loss",
) -> Trainer:
    """Train ``model`` into the run folder ``out`` (resuming if asked); returns the trainer.
    The best model and early stopping judge by ``monitor``.
    ``target_scale`` is the std of standardised regression targets (MAE logged in their units)."""
    out.mkdir(parents=True, exist_ok=True)
    if not 0.0 < options.val_split < 1.0:
        raise ValueError(f"--val-split must be between 0 and 1, got {options.val_split}")
    trainer = Trainer(
        model,
        loss_fn,
        make_optimizer(options.optimizer, model, lr),
        batch_size=batch_size,
        callbacks=make_callbacks(options, out, epochs, monitor),
        seed=options.seed,
        augment=augment,
        progress=options.progress,
        target_scale=target_scale,
    )
    model.metadata["training_options"] = recorded_options(
        options, epochs=epochs, lr=lr, batch_size=batch_size, augment=augment is not None
    )
    if options.resume:
        check_same_options(out / CHECKPOINT_FILE, model.metadata["training_options"])
        trainer.load_checkpoint(out / CHECKPOINT_FILE)
        print(f"resuming {out} after epoch {trainer.epoch}", flush=True)
    try:
        trainer.fit(x, y, epochs, validation_split=options.val_split)
    except KeyboardInterrupt:
        epoch = saved_epoch(out / CHECKPOINT_FILE)
        if epoch is None:
            print("\ninterrupted before the first epoch ended: nothing saved", file=sys.stderr)
        else:
            print(
                f"\ninterrupted: the state after epoch {epoch} is saved in "
                f"{out / CHECKPOINT_FILE}; continue with: {resume_command(options, out, model)}",
                file=sys.stderr,
            )
        raise
    except NonFiniteLossError as error:
        epoch = saved_epoch(out / CHECKPOINT_FILE)
        if epoch is None:
            raise
        kept = f"the state after epoch {epoch} is kept in {out / CHECKPOINT_FILE}"
        raise NonFiniteLossError(f"{error}; {kept}") from error
    trainer.history.to_csv(out / "history.csv")
    trainer.history.to_json(out / "history.json")
    return trainer


def recorded_options(options: TrainOptions, **resolved: Any) -> dict[str, Any]:
    """The options that decide what a run computes, with the preset defaults it used filled in
    (``resolved``): saved in the model's metadata, so in every checkpoint and model file."""
    recorded = {k: v for k, v in asdict(options).items() if k not in NOT_RECORDED}
    return {**recorded, **resolved}


def check_same_options(checkpoint: Path, options: dict[str, Any]) -> None:
    """Refuse to resume a run with options other than those it was started with: the result
    would match no uninterrupted run. Names each option that differs, then and now."""
    try:
        _, header = load_arrays(checkpoint)
    except ModelFileError:
        return  # Trainer.load_checkpoint reports the damaged file
    recorded = header.get("metadata", {}).get("training_options")
    if not isinstance(recorded, dict):
        return  # a checkpoint from before options were recorded: nothing to compare
    changed = [
        f"{option_flag(name, recorded.get(name))} (now {option_flag(name, value)})"
        for name, value in options.items()
        if recorded.get(name) != value
    ]
    if changed:
        raise ValueError(
            f"{checkpoint.parent} was started with other options: {', '.join(changed)}; "
            f"resume it with the options it was started with"
        )


def option_flag(name: str, value: Any) -> str:
    """How ``nanocnn train`` spells an option: ``--lr 0.01``, ``--augment``, ``--no-augment``."""
    flag = "--" + name.replace("_", "-")
    if isinstance(value, bool):
        return flag if value else f"--no-{flag[2:]}"
    return f"{flag} {shlex.quote(str(value))}"


def resume_command(options: TrainOptions, out: Path, model: Sequential) -> str:
    """The command that continues this run: ``--resume``, ``--out`` and every option given
    that is not the task's default."""
    task = model.metadata.get("task", "digits")
    words = ["nanocnn train --resume", option_flag("out", out)]
    words += [option_flag("task", task)] if task != "digits" else []
    defaults = asdict(type(options)())
    for name, value in asdict(options).items():
        if name in ("out", "resume", "progress") or value in (None, defaults[name]):
            continue  # said above, not an option of the run, or the default anyway
        words.append(option_flag(name, value))
    return " ".join(words)


def saved_epoch(path: Path) -> int | None:
    """The epoch a training checkpoint holds, read back from the file (None if there is no
    readable checkpoint): an interrupted run reports what is really on disk.

    Checkpoints are saved whole at the end of each epoch: an interrupt inside an epoch loses
    that epoch's progress, and resuming replays it exactly as an uninterrupted run would.
    """
    try:
        _, header = load_arrays(path)
    except ModelFileError:
        return None
    return header.get("epoch")


def record_run(
    report: dict[str, Any], trainer: Trainer, out: Path, seconds: float, **details: Any
) -> dict[str, Any]:
    """Add the run's ``training`` figures (``details``, epochs, times, peak memory) to the test
    ``report``, plot the history and write ``metrics.json``; returns the report."""
    epoch_seconds = trainer.history["seconds"]
    report["training"] = {
        **details,
        "epochs": len(trainer.history),
        "seconds": seconds,
        "seconds_per_epoch": float(np.mean(epoch_seconds)) if epoch_seconds else None,
        "peak_memory_mb": peak_memory_mb(),
    }
    plots.plot_history(trainer.history.columns(), out / "history.png")
    write_json(out / "metrics.json", report)
    return report


def run_footer(report: dict[str, Any], out: Path) -> str:
    """The last lines a training job prints: epochs, time, peak memory and the run folder."""
    training = report["training"]
    return (
        f"{training['epochs']} epochs in {training['seconds']:.0f} s | peak memory "
        f"{training['peak_memory_mb']:.0f} MiB\n"
        f"run folder: {out} (model.npz, history, metrics.json, plots)"
    )


def peak_memory_mb() -> float:
    """This process's peak resident memory in MiB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 2**10)


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path
