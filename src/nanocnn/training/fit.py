"""``fit``: a model trained in one call, as ``Trainer(...).fit(...)`` trains it."""

from __future__ import annotations

from typing import Any

import numpy as np

from nanocnn.layers import Sequential
from nanocnn.losses import Loss
from nanocnn.optim import Optimizer
from nanocnn.training.history import History
from nanocnn.training.trainer import Pair, Trainer


def fit(
    model: Sequential,
    loss_fn: Loss,
    optimizer: Optimizer,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    batch_size: int = 64,
    *,
    validation_data: Pair | None = None,
    validation_split: float = 0.0,
    **options: Any,
) -> History:
    """Train ``model`` in one call: ``Trainer(model, loss_fn, optimizer, batch_size=...,
    **options).fit(x, y, epochs, ...)``; see :class:`Trainer` for the options."""
    trainer = Trainer(model, loss_fn, optimizer, batch_size=batch_size, **options)
    return trainer.fit(
        x, y, epochs, validation_data=validation_data, validation_split=validation_split
    )
