"""Learning-rate schedules, as callbacks that set ``optimizer.lr``.

StepLR             lr = base * gamma ** (epoch // step_size)        at each epoch
CosineLR           lr = min + (base - min) * (1 + cos(pi * t / T)) / 2   at each batch,
                   t the step and T the total number of steps of the run
ReduceLROnPlateau  lr *= factor after ``patience`` epochs without improvement
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from nanocnn.training.callbacks import Callback, Mode, Monitor

if TYPE_CHECKING:
    from nanocnn.training.trainer import Trainer


class _Schedule(Callback):
    """Remembers the optimizer's starting learning rate as ``base_lr``."""

    base_lr: float | None = None

    def on_train_begin(self, trainer: Trainer) -> None:
        if self.base_lr is None:
            self.base_lr = trainer.optimizer.lr

    def state_dict(self) -> dict[str, Any]:
        return {"base_lr": self.base_lr}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.base_lr = state["base_lr"]


class StepLR(_Schedule):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs."""

    def __init__(self, step_size: int, gamma: float = 0.1) -> None:
        self.step_size, self.gamma = step_size, gamma

    def on_epoch_begin(self, trainer: Trainer) -> None:
        assert self.base_lr is not None
        trainer.optimizer.lr = self.base_lr * self.gamma ** (trainer.epoch // self.step_size)


class CosineLR(_Schedule):
    """Anneal the learning rate from its start to ``min_lr`` along half a cosine, per batch."""

    def __init__(self, min_lr: float = 0.0) -> None:
        self.min_lr = min_lr

    def on_batch_begin(self, trainer: Trainer) -> None:
        assert self.base_lr is not None
        progress = trainer.step / max(trainer.total_steps, 1)
        cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
        trainer.optimizer.lr = self.min_lr + (self.base_lr - self.min_lr) * cosine


class ReduceLROnPlateau(_Schedule):
    """Multiply the learning rate by ``factor`` when ``monitor`` stalls for ``patience``
    epochs, never going below ``min_lr``."""

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 2,
        min_lr: float = 0.0,
        mode: Mode = "auto",
    ) -> None:
        self.tracker = Monitor(monitor, mode)
        self.needs_validation = monitor.startswith("val_")
        self.factor, self.patience, self.min_lr = factor, patience, min_lr
        self.wait = 0

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        if self.tracker.improved(logs):
            self.wait = 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            trainer.optimizer.lr = max(trainer.optimizer.lr * self.factor, self.min_lr)
            trainer.say(
                f"{self.tracker.monitor} stalled: learning rate now {trainer.optimizer.lr:.2e}"
            )
            self.wait = 0

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "best": self.tracker.best, "wait": self.wait}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.tracker.best, self.wait = state["best"], state["wait"]
