"""The digits task: train on MNIST, evaluate on its test set, classify digit images.

Models of this task carry ``metadata["task"] == "digits"``, their input shape and class names,
so that ``nanocnn evaluate``/``predict`` and the web app know what they hold.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nanocnn import augment, metrics, plots
from nanocnn.datasets import load_mnist
from nanocnn.errors import BlankImageError
from nanocnn.images import ImageSource
from nanocnn.jobs.common import (
    MODEL_FILE,
    TrainOptions,
    record_run,
    run_directory,
    run_footer,
    train_model,
)
from nanocnn.layers import Conv2D, Dense
from nanocnn.layers.activations import softmax
from nanocnn.losses import SoftmaxCrossEntropy
from nanocnn.model import Sequential, load
from nanocnn.preprocess import preprocess_digit
from nanocnn.presets import PRESETS, build

TASK = "digits"
CLASSES = [str(digit) for digit in range(10)]


def train_digits(options: TrainOptions) -> dict[str, Any]:
    """Train a preset on MNIST into a run folder; returns the final test metrics."""
    if options.model not in PRESETS:
        raise ValueError(f"unknown model {options.model!r}; choose one of {', '.join(PRESETS)}")
    preset = PRESETS[options.model]
    epochs = options.epochs or preset.epochs
    lr, batch_size = options.lr or preset.lr, options.batch_size or preset.batch_size
    augmented = preset.augment if options.augment is None else options.augment
    out = run_directory(options)
    data = load_mnist(options.data_dir)
    x_train, y_train = data.x_train[: options.limit], data.y_train[: options.limit]
    x_test, y_test = data.x_test, data.y_test
    if options.limit:
        x_test, y_test = x_test[: options.limit], y_test[: options.limit]
    held_out = round(len(x_train) * options.val_split)
    print(
        f"training {options.model} on {len(x_train) - held_out:,} MNIST images "
        f"({held_out:,} held out for validation) into {out}",
        flush=True,
    )

    model = build(options.model, seed=options.seed)
    model.metadata.update(task=TASK, input_shape=[1, 28, 28], classes=CLASSES)
    start = time.perf_counter()
    trainer = train_model(
        model,
        SoftmaxCrossEntropy(),
        x_train,
        y_train,
        options,
        out,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        augment=augment.digits() if augmented else None,
    )
    seconds = time.perf_counter() - start

    best = load(out / MODEL_FILE)
    report = evaluate_digits(best, x_test, y_test, out)
    record_run(
        report, trainer, out, seconds,
        model=options.model, augment=augmented, train_images=len(x_train),
    )  # fmt: skip
    print(metrics.format_classification_report(report))
    print(f"\ntest accuracy {report['accuracy']:.4f} | {run_footer(report, out)}")
    return report


def evaluate_digits(
    model: Sequential, x: np.ndarray, y: np.ndarray, out: Path | None = None
) -> dict[str, Any]:
    """Accuracy, per-class precision/recall/F1 and the confusion matrix on (x, y); with
    ``out``, also the confusion-matrix, misclassified-digits and first-layer-filter plots."""
    probabilities = softmax(model.predict(x))
    predicted = probabilities.argmax(axis=1)
    report = metrics.classification_report(y, predicted, class_names=CLASSES)
    if out is not None:
        plots.plot_confusion_matrix(
            np.array(report["confusion_matrix"]), out / "confusion_matrix.png", CLASSES
        )
        wrong = predicted != y
        plots.plot_misclassified(
            x[wrong], y[wrong], predicted[wrong], out / "misclassified.png",
            probabilities=probabilities[wrong],
        )  # fmt: skip
        plots.plot_filters(first_layer_filters(model), out / "filters.png")
    return report


def first_layer_filters(model: Sequential) -> np.ndarray:
    """The first layer's weights as images (out, in, kh, kw): a conv's kernels, or an MLP's
    first dense layer with each unit's 784 weights shown as a 28x28 image."""
    for layer in model:
        if isinstance(layer, Conv2D):
            return layer.params["weight"]
        if isinstance(layer, Dense):
            weight = layer.params["weight"][:64]
            return weight.reshape(len(weight), 1, 28, 28)
    raise ValueError("the model has no Conv2D or Dense layer to show")


def classify_digits(model: Sequential, images: Sequence[ImageSource]) -> np.ndarray:
    """Preprocess each image the MNIST way and classify it: probabilities (N, 10).

    A ``BlankImageError`` names the image (its path, or its position in ``images``).
    """
    digits = []
    for index, image in enumerate(images):
        try:
            digits.append(preprocess_digit(image))
        except BlankImageError as error:
            name = image if isinstance(image, (str, os.PathLike)) else f"image {index}"
            raise BlankImageError(f"{name}: {error}") from error
    return softmax(model.predict(np.stack(digits).astype(model.dtype)))
