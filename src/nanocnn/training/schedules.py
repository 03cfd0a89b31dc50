"""Learning-rate schedules, as callbacks that set ``optimizer.lr``.

StepLR             lr = base * gamma ** (epoch // step_size)        at each epoch
CosineLR           lr = min + (base - min) * (1 + cos(pi * t / T)) / 2   at each batch,
                   t the step and T the total number of steps of the run
ReduceLROnPlateau  lr *= factor after ``patience`` epochs without improvement
OneCycleLR         at each batch: warm up from max/div_factor to max along half a cosine over
                   the first pct_start of the run, then anneal to max/(div_factor *
                   final_div_factor); the momentum moves the other way (Smith 2018)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nanocnn.optim import SGD, Adam
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
        progress = min(trainer.step / max(trainer.total_steps, 1), 1.0)
        trainer.optimizer.lr = _cos_anneal(self.base_lr, self.min_lr, progress)


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


class OneCycleLR(_Schedule):
    """PyTorch's ``OneCycleLR`` (two phases, cosine), per batch; its peak is the optimizer's
    starting learning rate (``max_lr``), set by whoever builds the optimizer.

    With T the run's total number of steps, t the step (0 first), a = max_lr / div_factor,
    b = a / final_div_factor and t1 = pct_start T - 1 (the end of the warm-up):

        lr = cos_anneal(a, max_lr, t / t1)                   for t <= t1
        lr = cos_anneal(max_lr, b, (t - t1) / (T - 1 - t1))  after,
        cos_anneal(start, end, f) = end + (start - end) (1 + cos(pi f)) / 2

    ``cycle_momentum`` (PyTorch's default) moves SGD's ``momentum`` (Adam's first beta) the
    other way, from ``max_momentum`` down to ``base_momentum`` during the warm-up and back.
    """

    def __init__(
        self,
        pct_start: float = 0.3,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        cycle_momentum: bool = True,
        base_momentum: float = 0.85,
        max_momentum: float = 0.95,
    ) -> None:
        if not 0.0 < pct_start < 1.0:
            raise ValueError(f"OneCycleLR pct_start must lie in (0, 1), got {pct_start}")
        self.pct_start, self.div_factor = pct_start, div_factor
        self.final_div_factor, self.cycle_momentum = final_div_factor, cycle_momentum
        self.base_momentum, self.max_momentum = base_momentum, max_momentum

    def on_batch_begin(self, trainer: Trainer) -> None:
        assert self.base_lr is not None
        lr, momentum = self.values(trainer.step, trainer.total_steps, self.base_lr)
        optimizer = trainer.optimizer
        optimizer.lr = lr
        if not self.cycle_momentum:
            return
        if isinstance(optimizer, Adam):
            optimizer.betas = (momentum, optimizer.betas[1])
        elif isinstance(optimizer, SGD) and optimizer.momentum:
            optimizer.momentum = momentum

    def values(self, step: int, total_steps: int, max_lr: float) -> tuple[float, float]:
        """(learning rate, momentum) at ``step`` (0 first) of a run of ``total_steps``."""
        initial = max_lr / self.div_factor
        warm_up_end = self.pct_start * total_steps - 1
        if step <= warm_up_end:
            fraction = step / warm_up_end if warm_up_end > 0 else 1.0
            lrs, momenta = (initial, max_lr), (self.max_momentum, self.base_momentum)
        else:
            fraction = min((step - warm_up_end) / (total_steps - 1 - warm_up_end), 1.0)
            lrs = (max_lr, initial / self.final_div_factor)
            momenta = (self.base_momentum, self.max_momentum)
        return _cos_anneal(*lrs, fraction), _cos_anneal(*momenta, fraction)


def _cos_anneal(start: float, end: float, fraction: float) -> float:
    """From ``start`` (fraction 0) to ``end`` (fraction 1) along half a cosine."""
    return end + (start - end) / 2.0 * (math.cos(math.pi * fraction) + 1.0)


# The learning-rate schedules a training run is given by name (``nanocnn train --schedule
# NAME``, a preset's recipe): each builds the callback for a run of so many epochs, or None.
# The command line's choices are this dict's keys; a schedule of your own is one more entry.
SCHEDULES: dict[str, Callable[[int], Callback | None]] = {
    "cosine": lambda epochs: CosineLR(),
    "onecycle": lambda epochs: OneCycleLR(),
    "step": lambda epochs: StepLR(step_size=max(1, epochs // 3), gamma=0.1),
    "plateau": lambda epochs: ReduceLROnPlateau(patience=1, factor=0.3),
    "none": lambda epochs: None,
}
