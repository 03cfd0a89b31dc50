"""The age task: predict a person's age in years from a face photo, trained on UTKFace.

The network regresses the standardised age z = (age - mean) / std, with the mean and standard
deviation of the training ages, and predictions map back to years: age = mean + std * z.
Models of this task carry ``target_mean``, ``target_std``, ``image_size`` and ``input_shape``
in their metadata, so the model file alone turns a photo into an age. See docs/age.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from nanocnn import augment, metrics, plots
from nanocnn.augment import Augment
from nanocnn.datasets.utkface import load_utkface, read_face
from nanocnn.errors import DataError
from nanocnn.images import ImageSource
from nanocnn.layers import Sequential
from nanocnn.losses import HuberLoss, L1Loss, Loss, MSELoss
from nanocnn.tasks.base import SPLIT_SEED, TEST_FRACTION, Option, Pair, Task, TaskData, TaskOptions
from nanocnn.tasks.classification import first_layer_filters
from nanocnn.training.metrics import MeanAbsoluteError, Metric

LOSSES: dict[str, type[Loss]] = {"l1": L1Loss, "mse": MSELoss, "huber": HuberLoss}
IMAGE_SIZE = 128  # faces are resized to this by default
GET_UTKFACE = (
    "UTKFace is not bundled and nanocnn cannot download it: get its aligned and cropped faces "
    "from the UTKFace project page or the Kaggle mirror 'UTKFace dataset', unpack them and "
    "pass the folder with --data-dir (see docs/age.md)"
)


class Age(Task):
    name = "age"
    help = "predict age in years from UTKFace face photos (--data-dir needed)"
    data_dir_help = "the UTKFace folder"
    default_model = "age_cnn"
    val_split = 1 / 9  # with the test split: 80% train, 10% validation, 10% test
    monitor = "val_mae"
    options = (
        Option("image_size", "faces are resized to this", int, default=IMAGE_SIZE),
        Option("loss", "the loss on the standardised age", choices=tuple(LOSSES), default="l1"),
    )

    def load(self, options: TaskOptions) -> TaskData:
        size = options.own["image_size"]
        x_train, ages, x_test, y_test = self._split(options.data_dir, size, options.limit)
        mean, std = float(ages.mean()), float(ages.std()) or 1.0  # std 1 if all ages are equal
        return TaskData(
            train=(x_train, (ages - mean) / std),
            test=(x_test, y_test),
            validation=None,
            metadata={
                "input_shape": [3, size, size],
                "image_size": size,
                "target_mean": mean,
                "target_std": std,
            },
            description=f"UTKFace images ({size}x{size})",
        )

    def _split(self, data_dir: Path | None, size: int, limit: int | None = None) -> tuple:
        """(x_train, ages_train, x_test, ages_test) of the UTKFace folder ``data_dir``."""
        if data_dir is None:
            raise DataError(f"the age task needs the UTKFace folder: {GET_UTKFACE}")
        data = load_utkface(
            data_dir, size, split=(1 - TEST_FRACTION, 0.0, TEST_FRACTION), seed=SPLIT_SEED,
            limit=limit,
        )  # fmt: skip
        if len(data.y_test) == 0:
            raise DataError(f"{data_dir}: too few images ({len(data.files)}) to test on")
        return data.x_train, data.y_train, data.x_test, data.y_test

    def outputs(self, data: TaskData) -> int:
        return 1

    def loss(self, options: TaskOptions) -> Loss:
        return LOSSES[options.own["loss"]]()

    def default_augment(self, data: TaskData) -> Augment | None:
        return augment.faces()

    def metric(self, metadata: dict[str, Any]) -> Metric:
        """The MAE in years: the network's error times the ages' standard deviation."""
        return MeanAbsoluteError(scale=metadata["target_std"])

    def evaluate(self, model: Sequential, test: Pair, out: Path | None = None) -> dict[str, Any]:
        """MAE, RMSE and R² in years, and ``baseline_mae``: the MAE of always answering the
        training mean. With ``out``, also the predicted-vs-true scatter, the error per decade
        of age and the first-layer filters as plots."""
        x, ages = test
        predicted = estimate_ages(model, x)
        report: dict[str, Any] = metrics.regression_report(ages, predicted)
        baseline = np.full(len(ages), model.metadata["target_mean"])
        report["baseline_mae"] = metrics.mae(ages, baseline)
        if out is not None:
            plots.plot_age_scatter(ages, predicted, out / "age_scatter.png")
            plots.plot_error_by_bucket(ages, predicted, out / "error_by_age.png")
            plots.plot_filters(first_layer_filters(model), out / "filters.png")
        return report

    def format_report(self, report: dict[str, Any]) -> str:
        return (
            f"test MAE {report['mae']:.2f} years (predicting the mean age: "
            f"{report['baseline_mae']:.2f}) | RMSE {report['rmse']:.2f} | R² {report['r2']:.3f} "
            f"| {report['n']} test faces"
        )

    def test_data(self, model: Sequential, data_dir: Path | None) -> Pair:
        """The faces the training run tested on: the same split of the same (``--limit``)
        share of ``data_dir``."""
        limit = model.metadata.get("training_options", {}).get("limit")
        _, _, x_test, y_test = self._split(data_dir, model.metadata["image_size"], limit)
        return x_test, y_test

    def prepare(self, model: Sequential, image: ImageSource) -> np.ndarray:
        """The face read as the UTKFace loader does (RGB, resized to the model's size)."""
        return read_face(image, model.metadata["image_size"]).astype(model.dtype)

    required_metadata: ClassVar[dict[str, str]] = {
        "image_size": "the side faces are resized to",
        "target_mean": "the mean training age, in years",
        "target_std": "the standard deviation of the training ages, in years",
    }

    def answer(self, model: Sequential, output: np.ndarray, top_k: int = 3) -> dict[str, Any]:
        """``{"age": 31.4}``: years, the network's standardised output mapped back."""
        age = model.metadata["target_mean"] + model.metadata["target_std"] * float(output[0])
        return {"age": round(age, 2)}

    def describe(self, model: Sequential, output: np.ndarray, top_k: int = 3) -> str:
        return f"age {self.answer(model, output)['age']:.1f} years"


def estimate_ages(model: Sequential, x: np.ndarray) -> np.ndarray:
    """Ages in years (N,) for faces ``x`` (N, 3, S, S) in [0, 1]: mean + std * output."""
    standardised = model.predict(x)[:, 0]  # (N, 1) -> (N,)
    return model.metadata["target_mean"] + model.metadata["target_std"] * standardised
