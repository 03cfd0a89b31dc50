"""The images task: classify your own pictures, one subfolder per class.

``--data-dir`` is laid out as torchvision's ImageFolder and Keras expect: ``DIR/<class>/...``,
or ``DIR/train/<class>/...`` with ``DIR/test/<class>/...`` (and optionally ``DIR/val/``);
see :mod:`nanocnn.datasets.folder` and docs/images.md. Without a test folder, a seeded,
stratified share of each class is held out for the test report; the model records the share
and the seed, so ``nanocnn evaluate`` tests on the same pictures.

Pictures are stored as uint8 (N, C, S, S) and become floats batch by batch: normalised per
channel with the mean and standard deviation of the training pictures, which the model
carries in ``metadata["normalization"]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from nanocnn import augment
from nanocnn.augment import Augment
from nanocnn.datasets.folder import load_image_folder
from nanocnn.datasets.image_arrays import channel_stats, read_image
from nanocnn.images import ImageSource
from nanocnn.inputs import input_converter
from nanocnn.layers import Sequential
from nanocnn.tasks.base import SPLIT_SEED, TEST_FRACTION, Option, Pair, TaskData, TaskOptions
from nanocnn.tasks.classification import ClassificationTask

IMAGE_SIZE = 32  # pictures are resized to this by default


class Images(ClassificationTask):
    name = "images"
    help = "classify your own pictures: --data-dir with one subfolder per class"
    data_dir_help = "a folder with a subfolder of pictures per class"
    val_split = 0.1
    # A folder holds fewer pictures than MNIST: smaller batches give more steps an epoch.
    recipes: ClassVar[dict[str, dict[str, Any]]] = {
        "cnn": {"epochs": 15, "batch_size": 32, "lr": 1e-3},
        "lenet": {"epochs": 20, "batch_size": 32},
        "mlp": {"epochs": 20, "batch_size": 32},
    }
    options = (
        Option("image_size", "pictures are resized to this", int, default=IMAGE_SIZE),
        Option("channels", "1 (gray) or 3 (RGB); default: as the pictures are", int, ("1", "3")),
    )

    def load(self, options: TaskOptions) -> TaskData:
        if options.data_dir is None:
            raise ValueError(
                "the images task needs --data-dir: a folder with a subfolder per class"
            )
        size = options.own["image_size"]
        folder = load_image_folder(
            options.data_dir, size, channels=options.own["channels"],
            test_fraction=TEST_FRACTION, seed=SPLIT_SEED, limit=options.limit,
            progress=options.progress, workers=options.workers,
        )  # fmt: skip
        mean, std = channel_stats(folder.x_train)
        std = np.maximum(std, 1 / 255)  # a channel of one value: no division by zero
        validation = None
        if folder.x_val is not None and folder.y_val is not None:
            validation = (folder.x_val, folder.y_val)
        return TaskData(
            train=(folder.x_train, folder.y_train),
            test=(folder.x_test, folder.y_test),
            validation=validation,
            metadata={
                "input_shape": [folder.channels, size, size],
                "image_size": size,
                "classes": list(folder.classes),
                "normalization": {"mean": mean.tolist(), "std": std.tolist()},
                "test_split": {"fraction": TEST_FRACTION, "seed": SPLIT_SEED},
            },
            description=(
                f"pictures of {len(folder.classes)} classes ({folder.channels}x{size}x{size}) "
                f"from {options.data_dir}"
            ),
        )

    def augment(self, data: TaskData) -> Augment | None:
        return augment.natural(data.metadata["image_size"])

    def test_data(self, model: Sequential, data_dir: Path | None) -> Pair:
        """The test pictures of ``data_dir``: its test/ folder, or the share of each class
        that the model's training run held out (the split recorded in its metadata)."""
        if data_dir is None:
            raise ValueError("evaluating an images model needs --data-dir: its picture folder")
        split = model.metadata.get("test_split", {})
        channels, size, _ = model.metadata["input_shape"]
        folder = load_image_folder(
            data_dir, size, channels=channels, parts=("test",),
            test_fraction=split.get("fraction", TEST_FRACTION),
            seed=split.get("seed", SPLIT_SEED),
        )  # fmt: skip
        if list(folder.classes) != model.metadata.get("classes"):
            raise ValueError(
                f"{data_dir} holds the classes {list(folder.classes)}, the model was trained "
                f"on {model.metadata.get('classes')}"
            )
        return folder.x_test, folder.y_test

    def prepare(self, model: Sequential, image: ImageSource) -> np.ndarray:
        """The picture read as the training pictures were (cropped, resized, normalised)."""
        channels, size, _ = model.metadata["input_shape"]
        pixels = read_image(image, size=size, channels=channels)[np.newaxis]  # (1, C, S, S)
        convert = input_converter(model.metadata)
        x = pixels / 255 if convert is None else convert(pixels)
        return x[0].astype(model.dtype, copy=False)
