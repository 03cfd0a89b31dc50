"""The age task: predict a person's age in years from a face photo, trained on UTKFace.

The network regresses the standardised age z = (age - mean) / std, with the mean and standard
deviation of the training ages, and predictions map back to years: age = mean + std * z.
Models of this task carry ``metadata["task"] == "age"``, ``target_mean``, ``target_std``,
``image_size`` and ``input_shape``, so the model file alone turns a photo into an age.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from nanocnn import augment, metrics, plots
from nanocnn.datasets.utkface import load_utkface, read_face
from nanocnn.errors import DataError
from nanocnn.images import ImageSource
from nanocnn.jobs.common import (
    MODEL_FILE,
    TrainOptions,
    record_run,
    run_directory,
    run_footer,
    train_model,
)
from nanocnn.jobs.digits import first_layer_filters
from nanocnn.losses import HuberLoss, L1Loss, Loss, MSELoss
from nanocnn.model import Sequential, load
from nanocnn.presets import AGE_PRESETS, build

TASK = "age"
LOSSES: dict[str, type[Loss]] = {"l1": L1Loss, "mse": MSELoss, "huber": HuberLoss}
TEST_FRACTION = 0.1  # of the images, held out for the final report
SPLIT_SEED = 0  # the test images are the same whatever --seed
GET_UTKFACE = (
    "UTKFace is not bundled and nanocnn cannot download it: get its aligned and cropped faces "
    "from the UTKFace project page or the Kaggle mirror 'UTKFace dataset', unpack them and "
    "pass the folder with --data-dir (see docs/age.md)"
)


@dataclass
class AgeOptions(TrainOptions):
    """The options of ``nanocnn train --task age``: every task's, with the age defaults."""

    model: str = "age_cnn"
    val_split: float = 1 / 9  # with the test split: 80% train, 10% validation, 10% test
    image_size: int = 128  # faces are resized to image_size x image_size RGB
    loss: Literal["l1", "mse", "huber"] = "l1"  # on the standardised age


def train_age(options: AgeOptions) -> dict[str, Any]:
    """Train an age preset on the UTKFace folder ``options.data_dir`` into a run folder;
    returns the final test metrics (MAE, RMSE, R² in years and the predict-the-mean MAE)."""
    if options.data_dir is None:
        raise DataError(f"the age task needs the UTKFace folder: {GET_UTKFACE}")
    if options.model not in AGE_PRESETS:
        raise ValueError(
            f"unknown age model {options.model!r}; choose one of {', '.join(AGE_PRESETS)}"
        )
    if options.loss not in LOSSES:
        raise ValueError(f"unknown loss {options.loss!r}; choose one of {', '.join(LOSSES)}")
    preset = AGE_PRESETS[options.model]
    epochs = options.epochs or preset.epochs
    lr, batch_size = options.lr or preset.lr, options.batch_size or preset.batch_size
    out = run_directory(options)
    size = options.image_size
    data = load_utkface(
        options.data_dir,
        size,
        split=(1 - TEST_FRACTION, 0.0, TEST_FRACTION),
        seed=SPLIT_SEED,
        limit=options.limit,
    )
    if len(data.y_test) == 0:
        raise DataError(f"{options.data_dir}: too few images ({len(data.files)}) to test on")
    x, ages = data.x_train, data.y_train  # the trainer holds out val_split of these
    mean, std = float(ages.mean()), float(ages.std()) or 1.0  # std 1 if all ages are equal
    print(
        f"training {options.model} on {len(x):,} UTKFace images ({size}x{size}) into {out}",
        flush=True,
    )

    augmented = AGE_PRESETS[options.model].augment if options.augment is None else options.augment
    model = build(options.model, seed=options.seed, image_size=size)
    model.metadata.update(
        task=TASK, input_shape=[3, size, size], image_size=size, target_mean=mean, target_std=std
    )
    start = time.perf_counter()
    trainer = train_model(
        model,
        LOSSES[options.loss](),
        x,
        (ages - mean) / std,
        options,
        out,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        augment=augment.faces() if augmented else None,
        target_scale=std,
        monitor="val_mae",
    )
    seconds = time.perf_counter() - start

    best = load(out / MODEL_FILE)
    report = evaluate_age(best, data.x_test, data.y_test, out)
    record_run(
        report, trainer, out, seconds,
        model=options.model, image_size=size, loss=options.loss, augment=augmented,
        train_images=len(x), target_mean=mean, target_std=std,
    )  # fmt: skip
    print(
        f"\ntest MAE {report['mae']:.2f} years (predicting the mean age: "
        f"{report['baseline_mae']:.2f}) | RMSE {report['rmse']:.2f} | R² {report['r2']:.3f} "
        f"| {report['n']} test faces\n{run_footer(report, out)}"
    )
    return report


def evaluate_age(
    model: Sequential, x: np.ndarray, ages: np.ndarray, out: Path | None = None
) -> dict[str, Any]:
    """MAE, RMSE and R² in years of ``model`` on faces ``x`` (N, 3, S, S) with true ``ages``
    (N,), and ``baseline_mae``: the MAE of always answering the training mean. With ``out``,
    also the predicted-vs-true scatter, the error per decade of age and the first-layer
    filters as plots."""
    predicted = estimate_ages(model, x)
    report: dict[str, Any] = metrics.regression_report(ages, predicted)
    report["baseline_mae"] = metrics.mae(ages, np.full(len(ages), model.metadata["target_mean"]))
    if out is not None:
        plots.plot_age_scatter(ages, predicted, out / "age_scatter.png")
        plots.plot_error_by_bucket(ages, predicted, out / "error_by_age.png")
        plots.plot_filters(first_layer_filters(model), out / "filters.png")
    return report


def estimate_ages(model: Sequential, x: np.ndarray) -> np.ndarray:
    """Ages in years (N,) for faces ``x`` (N, 3, S, S) in [0, 1]: mean + std * output."""
    standardised = model.predict(x)[:, 0]  # (N, 1) -> (N,)
    return model.metadata["target_mean"] + model.metadata["target_std"] * standardised


def predict_age(model: Sequential, images: Sequence[ImageSource]) -> np.ndarray:
    """Read each face image as the UTKFace loader does (RGB, resized to the model's image
    size) and predict its age: (N,) years."""
    size = model.metadata["image_size"]
    batch = np.stack([read_face(image, size) for image in images]).astype(model.dtype)
    return estimate_ages(model, batch)
