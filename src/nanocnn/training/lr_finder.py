"""The learning-rate range test (Smith 2017, "Cyclical learning rates"; fastai's ``lr_find``):
train for a few hundred steps while the learning rate grows exponentially from tiny to huge,
and watch the loss. It falls slowly at first, then fast, then the training diverges; a good
learning rate lies on the steep part, well below where the loss is lowest.

    finding = lr_range_test(trainer, x, y)
    finding.suggestion       # the lowest loss's learning rate / 10

The model, the optimizer and the trainer's generators are put back as they were afterwards:
the test leaves nothing behind but what it measured.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from nanocnn.training.trainer import Trainer

SMOOTHING = 0.98  # of the exponential moving average of the loss
DIVERGED = 4.0  # the test ends when the smoothed loss exceeds this many times its lowest
BELOW_MINIMUM = 10.0  # the suggestion: the lowest loss's learning rate divided by this


class LRFinding(NamedTuple):
    """What the test measured: the learning rate and smoothed loss at each step, and the
    suggested learning rate."""

    lrs: list[float]
    losses: list[float]
    suggestion: float


def lr_range_test(
    trainer: Trainer,
    x: np.ndarray,
    y: np.ndarray,
    start: float = 1e-7,
    end: float = 10.0,
    steps: int = 100,
) -> LRFinding:
    """Train ``trainer``'s model on batches of ``x``, ``y`` (stored samples, as ``fit`` takes
    them) for at most ``steps`` steps, the learning rate growing geometrically from ``start``
    to ``end``; stop early when the smoothed loss diverges (``DIVERGED``). Everything the
    test changes is restored. The suggestion is the learning rate of the lowest smoothed loss
    divided by ``BELOW_MINIMUM``: a step below where training starts to fail."""
    if not 0 < start < end or steps < 2:
        raise ValueError(f"need 0 < start < end and steps >= 2, got {start}, {end}, {steps}")
    x, y = trainer.check_data(x, y)
    saved = (trainer.model.state_dict(), trainer.optimizer.state_dict(), trainer.step)
    rng_state = trainer.rng.bit_generator.state
    factor = (end / start) ** (1 / (steps - 1))
    lrs: list[float] = []
    losses: list[float] = []
    average, best = 0.0, np.inf
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            for step, index in enumerate(_batches(trainer, len(x), steps)):
                trainer.optimizer.lr = start * factor**step
                loss, _ = trainer.train_step(x[index], y[index])
                average = SMOOTHING * average + (1 - SMOOTHING) * loss
                smoothed = average / (1 - SMOOTHING ** (step + 1))  # without the start's bias
                if not np.isfinite(smoothed) or smoothed > DIVERGED * best:
                    break
                best = min(best, smoothed)
                lrs.append(trainer.optimizer.lr)
                losses.append(float(smoothed))
    finally:
        trainer.model.load_state_dict(saved[0])
        trainer.optimizer.load_state_dict(saved[1])
        trainer.step = saved[2]
        trainer.rng.bit_generator.state = rng_state
    if not lrs:
        raise ValueError("the loss diverged at the first step: start from a smaller rate")
    return LRFinding(lrs, losses, lrs[int(np.argmin(losses))] / BELOW_MINIMUM)


def _batches(trainer: Trainer, count: int, steps: int) -> list[np.ndarray]:
    """``steps`` batches of shuffled sample indices, going round the data as often as needed."""
    order = np.concatenate(
        [trainer.rng.permutation(count) for _ in range(-(-steps * trainer.batch_size // count))]
    )
    size = min(trainer.batch_size, count)
    return [order[i * size : (i + 1) * size] for i in range(steps)]
