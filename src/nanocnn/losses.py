"""Loss functions: ``forward(pred, target) -> float`` and ``backward() -> dpred``.

Every loss is a mean (over the batch for cross-entropy, over all elements for the regression
losses and the binary cross-entropy, as PyTorch's ``reduction="mean"``). A loss that comes
out NaN or infinite raises ``NonFiniteLossError`` instead of letting NaN flow into the weights.
"""

from __future__ import annotations

import numpy as np

from nanocnn.errors import NonFiniteLossError


class Loss:
    """Base class: caches what ``backward`` needs and checks the result is finite."""

    def __init__(self) -> None:
        self._grad: np.ndarray | None = None

    def forward(self, pred: np.ndarray, target: np.ndarray) -> float:
        raise NotImplementedError

    def check_target(self, y: np.ndarray, dtype: np.typing.DTypeLike) -> np.ndarray:
        """The targets ``y`` of a whole data set checked for this loss and ready to train on
        (the trainer's rule): finite numbers (bools too), converted to the model's ``dtype``.
        ValueError naming the problem otherwise."""
        y = np.asarray(y)
        if not (np.issubdtype(y.dtype, np.number) or y.dtype == np.bool_):
            raise ValueError(f"targets y must be numbers, got dtype {y.dtype}")
        y = y.astype(dtype, copy=False)
        if not np.all(np.isfinite(y)):
            raise ValueError("targets y must be finite numbers (they hold NaN or inf)")
        return y

    def backward(self) -> np.ndarray:
        """The gradient of the last ``forward``'s loss with respect to ``pred``."""
        if self._grad is None:
            raise RuntimeError(f"{type(self).__name__}.backward() called before forward()")
        return self._grad

    def _finite(self, value: np.floating, pred: np.ndarray) -> float:
        if not np.isfinite(value):
            bad = "contains NaN/inf" if not np.all(np.isfinite(pred)) else "is finite"
            raise NonFiniteLossError(
                f"{type(self).__name__} is {value} (the prediction {bad}); the training has "
                f"diverged: try a lower learning rate"
            )
        return float(value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class SoftmaxCrossEntropy(Loss):
    """``SoftmaxCrossEntropy(label_smoothing=0.0)``: softmax and cross-entropy fused, logits
    (N, K) and int labels (N,) -> mean loss.

    log p = z - logsumexp(z)       (z shifted by its row max: no overflow at |z| ~ 1e4)
    q     = (1 - s) onehot(y) + s / K        the target distribution, s = label_smoothing
    loss  = -mean_n sum_k q[n, k] log p[n, k]
    dz    = (p - q) / N

    With s = 0 (the default) q is the one-hot label and the loss is -mean_n log p[n, y_n].
    Label smoothing (Szegedy et al. 2016; PyTorch's ``CrossEntropyLoss(label_smoothing=s)``,
    the same definition) moves s of the target's mass evenly over all K classes, so the
    network is not pushed towards ever larger logits: s = 0.1 is the modern recipe's.
    """

    def __init__(self, label_smoothing: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(
                f"SoftmaxCrossEntropy label_smoothing must lie in [0, 1], got {label_smoothing}"
            )
        self.label_smoothing = float(label_smoothing)

    def check_target(self, y: np.ndarray, dtype: np.typing.DTypeLike) -> np.ndarray:
        """Class labels: integers (N,), kept as they are."""
        y = np.asarray(y)
        if not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"classification labels y must be integers, got dtype {y.dtype}")
        return y

    def forward(self, pred: np.ndarray, target: np.ndarray) -> float:
        target = np.asarray(target)
        if pred.ndim != 2 or target.shape != (pred.shape[0],):
            raise ValueError(
                f"SoftmaxCrossEntropy expected logits (N, K) and labels (N,), "
                f"got {pred.shape} and {target.shape}"
            )
        if not np.issubdtype(target.dtype, np.integer):
            raise ValueError(f"SoftmaxCrossEntropy expected integer labels, got {target.dtype}")
        n, classes = pred.shape
        if n and (target.min() < 0 or target.max() >= classes):
            raise ValueError(
                f"SoftmaxCrossEntropy labels must lie in [0, {classes}), "
                f"got values from {target.min()} to {target.max()}"
            )
        shifted = pred - np.max(pred, axis=1, keepdims=True)
        log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
        rows, smoothing = np.arange(n), self.label_smoothing
        loss = -np.mean(log_probs[rows, target])
        grad = np.exp(log_probs)  # p
        if smoothing:
            uniform = -np.mean(log_probs)  # mean_n of -(1/K) sum_k log p[n, k]
            loss = (1.0 - smoothing) * loss + smoothing * uniform
            grad -= smoothing / classes
        grad[rows, target] -= 1.0 - smoothing
        grad *= 1.0 / n
        self._grad = grad
        return self._finite(loss, pred)

    def __repr__(self) -> str:
        smoothing = self.label_smoothing
        return f"SoftmaxCrossEntropy({f'label_smoothing={smoothing}' if smoothing else ''})"


class _PerElement(Loss):
    """A loss over each element of ``pred`` against its target: ``pred`` and ``target`` of one
    shape, or (N, 1) against (N,)."""

    def _difference(self, pred: np.ndarray, target: np.ndarray) -> np.ndarray:
        return pred - self._target(pred, target)

    def _target(self, pred: np.ndarray, target: np.ndarray) -> np.ndarray:
        """``target`` in ``pred``'s shape and dtype; ValueError for another shape."""
        target = np.asarray(target)
        if pred.ndim == 2 and pred.shape[1] == 1 and target.shape == (pred.shape[0],):
            target = target[:, None]
        if target.shape != pred.shape:
            raise ValueError(
                f"{type(self).__name__} expected target of shape {pred.shape} (or (N,) for "
                f"predictions (N, 1)), got {target.shape}"
            )
        return target.astype(pred.dtype, copy=False)


class MSELoss(_PerElement):
    """Mean squared error: ``mean((pred - target)**2)``; d/dpred = 2 (pred - target) / size."""

    def forward(self, pred: np.ndarray, target: np.ndarray) -> float:
        diff = self._difference(pred, target)
        self._grad = diff * (2.0 / diff.size)
        return self._finite(np.mean(diff * diff), pred)


class L1Loss(_PerElement):
    """Mean absolute error: ``mean(|pred - target|)``; d/dpred = sign(pred - target) / size."""

    def forward(self, pred: np.ndarray, target: np.ndarray) -> float:
        diff = self._difference(pred, target)
        self._grad = np.sign(diff) * (1.0 / diff.size)
        return self._finite(np.mean(np.abs(diff)), pred)


class HuberLoss(_PerElement):
    """``HuberLoss(delta=1.0)``: quadratic for |d| <= delta, linear beyond (as PyTorch).

    loss = mean(0.5 d**2 if |d| <= delta else delta * (|d| - 0.5 delta))
    d/dpred = clip(d, -delta, delta) / size
    """

    def __init__(self, delta: float = 1.0) -> None:
        super().__init__()
        if delta <= 0:
            raise ValueError(f"HuberLoss delta must be positive, got {delta}")
        self.delta = float(delta)

    def forward(self, pred: np.ndarray, target: np.ndarray) -> float:
        diff = self._difference(pred, target)
        size = np.abs(diff)
        quadratic = np.minimum(size, self.delta)
        loss = np.mean(0.5 * quadratic * quadratic + self.delta * (size - quadratic))
        self._grad = np.clip(diff, -self.delta, self.delta) * (1.0 / diff.size)
        return self._finite(loss, pred)

    def __repr__(self) -> str:
        return f"HuberLoss(delta={self.delta})"


class BCEWithLogitsLoss(_PerElement):
    """``BCEWithLogitsLoss(pos_weight=1.0)``: a sigmoid and binary cross-entropy fused, on
    logits z of shape (N,) or (N, 1) (or any shape) against targets y in [0, 1] of the same
    shape (or (N,) for (N, 1)), as PyTorch's. With softplus(z) = log(1 + exp(z)), stable for
    any z:

        loss    = mean(pos_weight * y * softplus(-z) + (1 - y) * softplus(z))
        d/dz    = (sigmoid(z) * (1 - y + pos_weight * y) - pos_weight * y) / size

    ``pos_weight`` > 1 counts the positive samples more (for rare positives). The model ends
    with the logit, no Sigmoid layer: ``sigmoid(z) > 0.5``, i.e. ``z > 0``, predicts 1.
    """

    def __init__(self, pos_weight: float = 1.0) -> None:
        super().__init__()
        if not pos_weight > 0:
            raise ValueError(f"BCEWithLogitsLoss pos_weight must be positive, got {pos_weight}")
        self.pos_weight = float(pos_weight)

    def forward(self, pred: np.ndarray, target: np.ndarray) -> float:
        target = self._target(pred, target)
        if target.size and not (target.min() >= 0 and target.max() <= 1):
            raise ValueError(
                f"BCEWithLogitsLoss targets must lie in [0, 1], got values from "
                f"{target.min()} to {target.max()}"
            )
        weighted = self.pos_weight * target  # (N, ...)
        loss = np.mean(weighted * np.logaddexp(0, -pred) + (1 - target) * np.logaddexp(0, pred))
        sigmoid = 0.5 * (1.0 + np.tanh(0.5 * pred))  # no overflow
        self._grad = (sigmoid * (1 - target + weighted) - weighted) * (1.0 / pred.size)
        return self._finite(loss, pred)

    def __repr__(self) -> str:
        weight = f"pos_weight={self.pos_weight}" if self.pos_weight != 1.0 else ""
        return f"BCEWithLogitsLoss({weight})"
