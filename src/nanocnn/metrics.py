"""Classification and regression metrics in plain NumPy.

Every function takes two 1-D arrays of equal length N: ``y_true`` and ``y_pred``. For
classification they hold class labels ``0..K-1``; for regression, real numbers. Nothing loops
over samples: the confusion matrix is one ``np.bincount``, and every per-class score is read
from it.

The results agree with scikit-learn's (``zero_division=0``, ``labels=range(K)``), which the
tests check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "ClassScores",
    "accuracy",
    "binary_accuracy",
    "classification_report",
    "confusion_matrix",
    "format_classification_report",
    "mae",
    "precision_recall_f1",
    "r2_score",
    "regression_report",
    "rmse",
]


# ----------------------------------------------------------------------------- input checks


def _check_pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Both as arrays, after checking that they are 1-D, non-empty and of equal length."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if y.ndim != 1:
            raise ValueError(f"{name} must be 1-D, got shape {y.shape}")
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true and y_pred must have the same length, got {len(y_true)} and {len(y_pred)}"
        )
    if len(y_true) == 0:
        raise ValueError("y_true and y_pred are empty")
    return y_true, y_pred


def _check_labels(
    y_true: ArrayLike, y_pred: ArrayLike, num_classes: int | None
) -> tuple[np.ndarray, np.ndarray, int]:
    """Labels as int64 arrays, and the number of classes K (inferred as max label + 1)."""
    y_true, y_pred = _check_pair(y_true, y_pred)
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"{name} must hold integer class labels, got dtype {y.dtype}")
        if y.min() < 0:
            raise ValueError(f"{name} holds a negative label: {y.min()}")
    largest = int(max(y_true.max(), y_pred.max()))
    if num_classes is None:
        num_classes = largest + 1
    elif largest >= num_classes:
        raise ValueError(f"label {largest} is out of range for num_classes={num_classes}")
    return y_true.astype(np.int64), y_pred.astype(np.int64), num_classes


def _check_values(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Regression targets and predictions as float64 arrays, checked to be finite."""
    y_true, y_pred = _check_pair(y_true, y_pred)
    y_true, y_pred = y_true.astype(np.float64), y_pred.astype(np.float64)
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{name} holds NaN or infinite values")
    return y_true, y_pred


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator``, with 0 wherever the denominator is 0."""
    out = np.zeros(numerator.shape, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


# --------------------------------------------------------------------------- classification


def accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """The fraction of labels predicted exactly: ``mean(y_true == y_pred)``."""
    y_true, y_pred = _check_pair(y_true, y_pred)
    return float(np.mean(y_true == y_pred))


def binary_accuracy(y_true: ArrayLike, logits: ArrayLike) -> float:
    """The fraction of 0/1 labels ``y_true`` (N,) predicted by ``logits`` (N,) or (N, 1), a
    binary classifier's outputs (as :class:`nanocnn.BCEWithLogitsLoss` trains): a logit above
    0 (a sigmoid above 0.5) predicts 1."""
    logits = np.asarray(logits)
    if logits.ndim == 2 and logits.shape[1] == 1:
        logits = logits[:, 0]
    y_true, logits = _check_pair(y_true, logits)
    if not np.isin(y_true, (0, 1)).all():
        raise ValueError("y_true must hold binary labels 0 and 1")
    return float(np.mean((logits > 0) == (y_true == 1)))


def confusion_matrix(
    y_true: ArrayLike, y_pred: ArrayLike, num_classes: int | None = None
) -> np.ndarray:
    """Counts ``C[i, j]`` of samples of true class i predicted as class j.

    Shape (K, K), int64, with K = ``num_classes`` or the largest label + 1. Rows sum to the
    support of each class, columns to how often each class was predicted.
    """
    y_true, y_pred, k = _check_labels(y_true, y_pred, num_classes)
    counts = np.bincount(k * y_true + y_pred, minlength=k * k)  # (N,) -> (K*K,)
    return counts.reshape(k, k)


@dataclass(frozen=True)
class ClassScores:
    """Per-class scores, each of shape (K,), read from a confusion matrix C.

    With ``tp = diag(C)``, ``predicted = C.sum(0)`` and ``support = C.sum(1)``:

    - ``precision = tp / predicted``: of the samples predicted as the class, how many are;
    - ``recall = tp / support``: of the samples of the class, how many were found;
    - ``f1 = 2 tp / (predicted + support)``, the harmonic mean of precision and recall.

    A score whose denominator is 0 is 0 (scikit-learn's ``zero_division=0``). The macro
    averages are plain means over all K classes.
    """

    precision: np.ndarray  # (K,) float64
    recall: np.ndarray  # (K,) float64
    f1: np.ndarray  # (K,) float64
    support: np.ndarray  # (K,) int64, samples of each class in y_true

    @property
    def macro_precision(self) -> float:
        return float(self.precision.mean())

    @property
    def macro_recall(self) -> float:
        return float(self.recall.mean())

    @property
    def macro_f1(self) -> float:
        return float(self.f1.mean())


def precision_recall_f1(
    y_true: ArrayLike, y_pred: ArrayLike, num_classes: int | None = None
) -> ClassScores:
    """Precision, recall, F1 and support of each class; see ``ClassScores`` for the math."""
    return _scores(confusion_matrix(y_true, y_pred, num_classes))


def _scores(cm: np.ndarray) -> ClassScores:
    """The ``ClassScores`` of a (K, K) confusion matrix."""
    tp, predicted, support = np.diag(cm), cm.sum(axis=0), cm.sum(axis=1)
    return ClassScores(
        precision=_safe_divide(tp, predicted),
        recall=_safe_divide(tp, support),
        f1=_safe_divide(2 * tp, predicted + support),
        support=support,
    )


def classification_report(
    y_true: ArrayLike, y_pred: ArrayLike, class_names: list[str] | None = None
) -> dict[str, Any]:
    """Every classification metric in one JSON-serialisable dict.

    K is ``len(class_names)`` when names are given (default: the labels as strings). Returns::

        {"accuracy": float, "n": int,
         "classes": [{"name", "precision", "recall", "f1", "support"}, ...],  # K entries
         "macro": {"precision", "recall", "f1"},
         "confusion_matrix": [[int, ...], ...]}                               # K x K
    """
    num_classes = None if class_names is None else len(class_names)
    cm = confusion_matrix(y_true, y_pred, num_classes)
    scores = _scores(cm)
    names = [str(i) for i in range(len(cm))] if class_names is None else list(class_names)
    classes = [
        {
            "name": name,
            "precision": float(scores.precision[i]),
            "recall": float(scores.recall[i]),
            "f1": float(scores.f1[i]),
            "support": int(scores.support[i]),
        }
        for i, name in enumerate(names)
    ]
    return {
        "accuracy": float(np.trace(cm) / cm.sum()),
        "n": int(cm.sum()),
        "classes": classes,
        "macro": {
            "precision": scores.macro_precision,
            "recall": scores.macro_recall,
            "f1": scores.macro_f1,
        },
        "confusion_matrix": cm.tolist(),
    }


def format_classification_report(report: dict[str, Any], digits: int = 3) -> str:
    """A text table of a ``classification_report``, like scikit-learn's, then the confusion
    matrix (rows = true class, columns = predicted class)."""
    names = [c["name"] for c in report["classes"]]
    width = max(len(name) for name in [*names, "macro avg"])
    score_width = max(9, digits + 3)
    header = " " * width + "".join(
        f"{title:>{score_width + 2}}" for title in ("precision", "recall", "f1-score", "support")
    )

    def row(name: str, scores: list[float | None], support: int) -> str:
        cells = "".join(
            " " * (score_width + 2) if s is None else f"{s:>{score_width + 2}.{digits}f}"
            for s in scores
        )
        return f"{name:>{width}}{cells}{support:>{score_width + 2}}"

    macro = report["macro"]
    lines = [header, ""]
    lines += [
        row(c["name"], [c["precision"], c["recall"], c["f1"]], c["support"])
        for c in report["classes"]
    ]
    lines += [
        "",
        row("accuracy", [None, None, report["accuracy"]], report["n"]),
        row("macro avg", [macro["precision"], macro["recall"], macro["f1"]], report["n"]),
    ]

    cm = np.asarray(report["confusion_matrix"])
    cell = max(len(str(cm.max())), *(len(name) for name in names)) + 2
    lines += [
        "",
        "confusion matrix (rows = true, columns = predicted)",
        " " * width + "".join(f"{name:>{cell}}" for name in names),
    ]
    lines += [
        f"{name:>{width}}" + "".join(f"{count:>{cell}}" for count in counts)
        for name, counts in zip(names, cm.tolist(), strict=True)
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------------------- regression


def mae(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean absolute error: ``mean(|y_pred - y_true|)``."""
    y_true, y_pred = _check_values(y_true, y_pred)
    return float(np.mean(np.abs(y_pred - y_true)))


def rmse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Root mean squared error: ``sqrt(mean((y_pred - y_true)^2))``."""
    y_true, y_pred = _check_values(y_true, y_pred)
    return float(np.sqrt(np.mean((y_pred - y_true) ** 2)))


def r2_score(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Coefficient of determination: ``1 - sum((y - y_hat)^2) / sum((y - mean(y))^2)``.

    1 is a perfect fit, 0 is no better than predicting the mean, and it can be negative. When
    ``y_true`` is constant the ratio is undefined: the score is then 1 for a perfect fit and 0
    otherwise (scikit-learn's ``force_finite=True``).
    """
    y_true, y_pred = _check_values(y_true, y_pred)
    residual = np.sum((y_true - y_pred) ** 2)
    total = np.sum((y_true - y_true.mean()) ** 2)
    if total == 0:
        return 1.0 if residual == 0 else 0.0
    return float(1.0 - residual / total)


def regression_report(y_true: ArrayLike, y_pred: ArrayLike) -> dict[str, float | int]:
    """``{"mae", "rmse", "r2", "n"}`` for a regression, JSON-serialisable."""
    y_true, y_pred = _check_values(y_true, y_pred)
    return {
        "mae": mae(y_true, y_pred),
        "rmse": rmse(y_true, y_pred),
        "r2": r2_score(y_true, y_pred),
        "n": len(y_true),
    }
