"""Evaluation in inference mode over the ranks of a run: each its share of the samples, the
sums of the loss and the metric added up, every prediction gathered where the metric needs
them all (a regression's R²)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nanocnn.layers import Sequential
from nanocnn.losses import Loss
from nanocnn.parallel import Workers
from nanocnn.training.metrics import Metric


def evaluate(
    model: Sequential,
    loss_fn: Loss,
    metric: Metric,
    x: np.ndarray,
    y: np.ndarray,
    inputs: Callable[[np.ndarray], np.ndarray],
    workers: Workers,
    batch_size: int = 500,
) -> dict[str, float]:
    """``{"loss": mean loss, metric.name: mean metric, **metric.report(...)}`` of ``model``
    on the stored samples ``x`` (each batch through ``inputs``) and targets ``y``."""
    count = len(x)
    rows = workers.rows(count)
    mine_x, mine_y = x[rows], y[rows]
    totals = np.zeros(2)
    predictions = []
    for begin in range(0, len(mine_x), batch_size):
        xb, yb = inputs(mine_x[begin : begin + batch_size]), mine_y[begin : begin + batch_size]
        pred = model.forward(xb, training=False)
        totals += loss_fn.forward(pred, yb) * len(xb), metric(pred, yb)
        if metric.gathers:
            predictions.append(pred.reshape(len(yb), -1))
    loss_sum, metric_sum = workers.sum(totals)
    figures = {"loss": loss_sum / count, metric.name: metric_sum / count}
    if metric.gathers:  # every prediction, in order, on every rank
        gathered = [p for part in workers.gather(predictions) for p in part]
        figures.update(metric.report(np.concatenate(gathered), y))
    return figures
