"""The figure a trainer logs beside the loss, batch by batch: accuracy, or an error in the
targets' own units. A task gives its own (the digits' accuracy, the age's MAE in years);
``Trainer`` without one takes the loss's usual figure (:func:`default_metric`).

A metric is a sum over samples (``__call__``), so the sums of the batches, and of the ranks
of a data-parallel run, add up to the figure of the epoch. One that needs every prediction
at once (R² of a regression) adds it in :meth:`Metric.report`, at evaluation.
"""

from __future__ import annotations

import numpy as np

from nanocnn import metrics
from nanocnn.losses import BCEWithLogitsLoss, Loss, SoftmaxCrossEntropy


class Metric:
    """Base class: ``name`` is the key in the logs (``val_<name>`` for validation)."""

    name = "metric"
    gathers = False  # whether report() needs every prediction of the evaluated set

    def __call__(self, pred: np.ndarray, y: np.ndarray) -> float:
        """The sum of the figure over the samples of a batch: (N, ...) outputs, (N, ...)
        targets."""
        raise NotImplementedError

    def report(self, pred: np.ndarray, y: np.ndarray) -> dict[str, float]:
        """More figures from every prediction ``pred`` (N, ...) of an evaluated set."""
        return {}


class Accuracy(Metric):
    """Correct predictions of a classifier: the largest logit is the label (N,)."""

    name = "accuracy"

    def __call__(self, pred: np.ndarray, y: np.ndarray) -> float:
        return float(np.sum(pred.argmax(axis=1) == y))


class BinaryAccuracy(Metric):
    """Correct predictions of binary logits: a logit above 0 predicts 1 (targets in [0, 1]
    round at 0.5), averaged over each sample's outputs."""

    name = "accuracy"

    def __call__(self, pred: np.ndarray, y: np.ndarray) -> float:
        hits = (pred.reshape(len(y), -1) > 0) == (y.reshape(len(y), -1) > 0.5)
        return float(np.sum(hits.mean(axis=1)))


class MeanAbsoluteError(Metric):
    """``MeanAbsoluteError(scale=1.0)``: each sample's mean |pred - y| times ``scale``:
    targets standardised as (t - mean) / std are scored in their own units with
    ``scale=std``. Its report adds RMSE (in those units) and R²."""

    name = "mae"
    gathers = True

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = float(scale)

    def __call__(self, pred: np.ndarray, y: np.ndarray) -> float:
        error = np.abs(pred.reshape(len(y), -1) - y.reshape(len(y), -1)).mean(axis=1)
        return float(np.sum(error)) * self.scale

    def report(self, pred: np.ndarray, y: np.ndarray) -> dict[str, float]:
        pred, y = pred.ravel(), y.ravel()
        return {"rmse": metrics.rmse(y, pred) * self.scale, "r2": metrics.r2_score(y, pred)}


def default_metric(loss_fn: Loss) -> Metric:
    """The usual figure of ``loss_fn``: accuracy for the classifiers' losses, else the MAE."""
    if isinstance(loss_fn, SoftmaxCrossEntropy):
        return Accuracy()
    if isinstance(loss_fn, BCEWithLogitsLoss):
        return BinaryAccuracy()
    return MeanAbsoluteError()
