"""Callbacks: code that runs at fixed points of training (early stopping, the best model).

A callback overrides any of the hooks below; each receives the :class:`Trainer`, whose
``model``, ``optimizer``, ``workers``, ``epoch``, ``step`` and ``history`` it may read, and
whose ``stop_training`` it may set. ``state_dict``/``load_state_dict`` let a resumed run carry
on exactly where the interrupted one stopped (values may be JSON data or NumPy arrays).

The trainer's own parts are callbacks too, run around the user's: the progress display
(:class:`~nanocnn.training.progress_logger.ProgressLogger`) and the watch for non-finite
weights (:class:`StopOnNonFinite`) before them, the training checkpoint
(:class:`~nanocnn.training.checkpoint.StateCheckpoint`) after them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from nanocnn.errors import NonFiniteLossError
from nanocnn.io import save

if TYPE_CHECKING:
    from nanocnn.training.trainer import Trainer

Mode = Literal["auto", "min", "max"]


class Callback:
    """Base class; every hook does nothing. ``needs_validation``: the callback judges by a
    validation figure (its ``tracker`` monitors one), so ``fit`` refuses to start without
    validation data."""

    @property
    def needs_validation(self) -> bool:
        tracker = getattr(self, "tracker", None)
        return isinstance(tracker, Monitor) and tracker.monitor.startswith("val_")

    def on_train_begin(self, trainer: Trainer) -> None: ...

    def on_epoch_begin(self, trainer: Trainer) -> None: ...

    def on_batch_begin(self, trainer: Trainer) -> None: ...

    def on_batch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        """After a batch's step: ``logs`` holds its ``batch`` number, ``size`` (samples) and
        ``loss``."""

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, float]) -> None: ...

    def on_train_end(self, trainer: Trainer) -> None: ...

    def on_train_error(self, trainer: Trainer, error: BaseException) -> None:
        """Training stops on ``error`` (raised on after this hook), an interrupt included."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class Monitor:
    """Tracks the best value of one logged figure: lower is better for losses and errors."""

    def __init__(self, monitor: str, mode: Mode = "auto", min_delta: float = 0.0) -> None:
        if mode == "auto":
            lower = any(word in monitor for word in ("loss", "mae", "rmse", "error"))
            mode = "min" if lower else "max"
        self.monitor, self.mode, self.min_delta = monitor, mode, min_delta
        self.best: float | None = None
        self.best_epoch: int | None = None  # the epoch of the best value, when logs say it

    def improved(self, logs: dict[str, float]) -> bool:
        """Whether ``logs`` beats the best so far (and if so, remember it)."""
        if self.monitor not in logs:
            raise KeyError(
                f"cannot monitor {self.monitor!r}: the logs have {sorted(logs)} "
                f"(validation figures need validation data)"
            )
        value = logs[self.monitor]
        better = (
            self.best is None
            or (self.mode == "min" and value < self.best - self.min_delta)
            or (self.mode == "max" and value > self.best + self.min_delta)
        )
        if better:
            epoch = logs.get("epoch")
            self.best, self.best_epoch = value, None if epoch is None else int(epoch)
        return better


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs; by default put back the
    weights of the best epoch at the end."""

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 3,
        min_delta: float = 0.0,
        mode: Mode = "auto",
        restore_best_weights: bool = True,
    ) -> None:
        self.tracker = Monitor(monitor, mode, min_delta)
        self.patience, self.restore_best_weights = patience, restore_best_weights
        self.wait, self.best_epoch = 0, 0
        self.best_weights: dict[str, np.ndarray] | None = None

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        if self.tracker.improved(logs):
            self.wait, self.best_epoch = 0, trainer.epoch
            if self.restore_best_weights:
                self.best_weights = trainer.model.state_dict()
        else:
            self.wait += 1
            if self.wait >= self.patience:
                trainer.stop_training = True
                trainer.say(
                    f"early stopping: {self.tracker.monitor} has not improved for "
                    f"{self.patience} epochs (best {self.tracker.best:.4f} at epoch "
                    f"{self.best_epoch})"
                )

    def on_train_end(self, trainer: Trainer) -> None:
        if self.best_weights is not None and self.best_epoch != trainer.epoch:
            trainer.model.load_state_dict(self.best_weights)
            trainer.say(f"restored the weights of epoch {self.best_epoch}")

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "best": self.tracker.best,
            "wait": self.wait,
            "best_epoch": self.best_epoch,
        }
        for name, value in (self.best_weights or {}).items():
            state[f"best_weights.{name}"] = value
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.tracker.best, self.wait = state["best"], state["wait"]
        self.best_epoch = state["best_epoch"]
        prefix = "best_weights."
        weights = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        self.best_weights = weights or None


class ModelCheckpoint(Callback):
    """Save the model file (weights + architecture) after an epoch: only when ``monitor``
    improves if ``save_best_only``, else every epoch. Written atomically, by rank 0 alone
    in data-parallel training."""

    def __init__(
        self,
        path: str | os.PathLike,
        monitor: str = "val_loss",
        mode: Mode = "auto",
        save_best_only: bool = True,
    ) -> None:
        self.path, self.save_best_only = Path(path), save_best_only
        self.tracker = Monitor(monitor, mode)

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        if (self.tracker.improved(logs) or not self.save_best_only) and trainer.workers.is_root:
            save(trainer.model, self.path)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.tracker.best, "best_epoch": self.tracker.best_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.tracker.best, self.tracker.best_epoch = state["best"], state.get("best_epoch")


class StopOnNonFinite(Callback):
    """Stop training with ``NonFiniteLossError`` when an update made weights NaN or infinite,
    naming them, the batch and the learning rate, before a checkpoint can save them (Keras's
    TerminateOnNaN; a non-finite loss stops it the same way, raised by the loss itself).
    The weights are checked after each epoch's last batch: one pass over them an epoch."""

    def on_batch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        if logs["batch"] != trainer.epoch_batches:
            return
        parameters = trainer.model.parameters()
        bad = [name for name, param, _ in parameters if not np.isfinite(param).all()]
        if bad:
            raise NonFiniteLossError(
                f"weights {bad} became NaN or infinite: try a lower learning rate"
            )
