"""A training run fitted into a time budget rather than a number of epochs.

    Trainer(..., callbacks=[TimeBudget(600), CosineLR()]).fit(x, y, epochs=10_000)

The run stops when the budget is spent (after the batch that spends it, then validates once
more), and the learning-rate schedules anneal over the budget, not over the epochs: before
every batch, :class:`TimeBudget` sets ``trainer.total_steps`` to the steps taken so far plus
those the time left allows at the pace so far (validation included), so a schedule that runs
over ``total_steps`` (``CosineLR``, ``OneCycleLR``) reaches its end as the time runs out.
Place it first among the callbacks, before the schedule. Time spent is part of its state, so
a resumed run has what is left of the budget; a run on a budget is not bit-reproducible.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from nanocnn.training.callbacks import Callback

if TYPE_CHECKING:
    from nanocnn.training.trainer import Trainer

MIN_STEPS_TIMED = 5  # the pace is an estimate only after this many steps


class TimeBudget(Callback):
    """``TimeBudget(seconds)``: stop training after ``seconds`` of it; schedules fit in."""

    def __init__(self, seconds: float) -> None:
        if not seconds > 0:
            raise ValueError(f"the time budget must be positive, got {seconds} seconds")
        self.seconds = float(seconds)
        self.spent = 0.0  # seconds of training before this fit (a resumed run's)
        self.start = 0.0
        self.first_step = 0

    def elapsed(self) -> float:
        """Seconds of the budget spent so far."""
        return self.spent + time.perf_counter() - self.start

    def on_train_begin(self, trainer: Trainer) -> None:
        self.start, self.first_step = time.perf_counter(), trainer.step
        self._estimate(trainer)

    def on_batch_begin(self, trainer: Trainer) -> None:
        self._estimate(trainer)

    def on_batch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        if self.elapsed() >= self.seconds:
            trainer.stop_training = True  # ends the epoch here; it validates, then stops

    def on_train_end(self, trainer: Trainer) -> None:
        self.spent = self.elapsed()

    def _estimate(self, trainer: Trainer) -> None:
        """``trainer.total_steps``: the steps done plus those the time left allows."""
        steps = trainer.step - self.first_step
        if steps < MIN_STEPS_TIMED:
            return  # the epochs' count stands until the pace is known
        pace = (time.perf_counter() - self.start) / steps  # seconds a step, validation too
        left = max(self.seconds - self.elapsed(), 0.0)
        trainer.total_steps = max(trainer.step + 1, round(trainer.step + left / pace))

    def state_dict(self) -> dict[str, Any]:
        return {"spent": self.elapsed() if self.start else self.spent}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.spent = float(state["spent"])


def parse_duration(text: str) -> float:
    """Seconds in ``"90s"``, ``"10m"``, ``"1h30m"``, ``"1.5h"`` or a plain number of seconds;
    ValueError naming the text otherwise."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0}
    rest, total = text.strip().lower(), 0.0
    try:
        if rest.replace(".", "", 1).isdigit():
            total = float(rest)
        else:
            while rest:
                number = ""
                while rest and (rest[0].isdigit() or rest[0] == "."):
                    number, rest = number + rest[0], rest[1:]
                if not number or not rest or rest[0] not in units:
                    raise ValueError
                total, rest = total + float(number) * units[rest[0]], rest[1:]
    except ValueError:
        raise ValueError(f"not a duration: {text!r} (e.g. 90s, 10m, 1h30m)") from None
    if not total > 0:
        raise ValueError(f"not a positive duration: {text!r}")
    return total
