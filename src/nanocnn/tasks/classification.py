"""What every classification task shares: the loss, the report and its plots, the answer to
``predict``, all with the class names the model file carries (``metadata["classes"]``).

The report's keys are the same for every classification task (``accuracy`` at the top level,
per-class precision/recall/F1, the confusion matrix), so ``metrics.json`` reads the same
whether the model learned digits or photos.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nanocnn import metrics, plots
from nanocnn.inputs import predict_samples
from nanocnn.layers import Conv2D, Dense, Sequential
from nanocnn.layers.activations import softmax
from nanocnn.losses import Loss, SoftmaxCrossEntropy
from nanocnn.tasks.base import Pair, Task, TaskData, TaskOptions

TOP_CLASSES = 3  # classes ``predict`` names for each image


class ClassificationTask(Task):
    """A task whose model outputs one logit per class."""

    monitor = "val_loss"

    def outputs(self, data: TaskData) -> int:
        return len(data.metadata["classes"])

    def loss(self, options: TaskOptions) -> Loss:
        return SoftmaxCrossEntropy(label_smoothing=options.label_smoothing)

    def evaluate(self, model: Sequential, test: Pair, out: Path | None = None) -> dict[str, Any]:
        """Accuracy, per-class precision/recall/F1 and the confusion matrix; with ``out``,
        also the confusion-matrix, misclassified-examples and first-layer-filter plots."""
        x, y = test
        names = class_names(model)
        probabilities = softmax(predict_samples(model, x))
        predicted = probabilities.argmax(axis=1)
        report = metrics.classification_report(y, predicted, class_names=names)
        if out is not None:
            confusion = np.array(report["confusion_matrix"])
            plots.plot_confusion_matrix(confusion, out / "confusion_matrix.png", names)
            plots.plot_misclassified(
                x, y, predicted, out / "misclassified.png",
                probabilities=probabilities, class_names=names,
            )  # fmt: skip
            plots.plot_filters(first_layer_filters(model), out / "filters.png")
        return report

    def format_report(self, report: dict[str, Any]) -> str:
        return (
            f"{metrics.format_classification_report(report)}\n\n"
            f"test accuracy {report['accuracy']:.4f}"
        )

    def answer(self, model: Sequential, output: np.ndarray, top_k: int = TOP_CLASSES) -> dict:
        """``{"class": "dog", "probabilities": {"dog": 0.93, "cat": 0.05, ...}}``: the
        ``top_k`` likeliest classes, likeliest first."""
        probabilities = softmax(output[np.newaxis])[0]
        names = class_names(model)
        top = probabilities.argsort()[::-1][:top_k]
        return {
            "class": names[top[0]],
            "probabilities": {names[k]: round(float(probabilities[k]), 6) for k in top},
        }

    def describe(self, model: Sequential, output: np.ndarray, top_k: int = TOP_CLASSES) -> str:
        """``"dog (0.930), cat (0.050), bird (0.010)"``: the likeliest classes first."""
        ranked = self.answer(model, output, top_k)["probabilities"].items()
        return ", ".join(f"{name} ({p:.3f})" for name, p in ranked)

    def metadata_problems(self, model: Sequential) -> list[str]:
        """Also: as many class names as the model has outputs, when it names them."""
        problems = super().metadata_problems(model)
        names = model.metadata.get("classes")
        if problems or names is None:
            return problems
        outputs = model.predict(np.zeros((1, *model.metadata["input_shape"]), model.dtype))
        if not isinstance(names, list) or len(names) != outputs.shape[1]:
            count = len(names) if isinstance(names, list) else "no list of"
            problems.append(
                f"classes names {count} classes, but the model has {outputs.shape[1]} outputs"
            )
        return problems


def class_names(model: Sequential) -> list[str]:
    """The model's class names (``metadata["classes"]``), else "0", "1"... by its outputs."""
    names = model.metadata.get("classes")
    if isinstance(names, list) and names:
        return [str(name) for name in names]
    outputs = next(layer for layer in reversed(model.layers) if isinstance(layer, Dense))
    return [str(k) for k in range(outputs.params["weight"].shape[0])]


def first_layer_filters(model: Sequential) -> np.ndarray:
    """The first layer's weights as images (out, in, kh, kw): a conv's kernels, or an MLP's
    first dense layer with each unit's weights shown as an image of the input's shape."""
    for layer in model:
        if isinstance(layer, Conv2D):
            return layer.params["weight"]
        if isinstance(layer, Dense):
            weight = layer.params["weight"][:64]
            channels, height, width = model.metadata.get("input_shape", (1, 28, 28))
            return weight.reshape(len(weight), channels, height, width)
    raise ValueError("the model has no Conv2D or Dense layer to show")
