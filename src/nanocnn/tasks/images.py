"""The images task: classify your own pictures, one subfolder per class.

``--data-dir`` is laid out as torchvision's ImageFolder and Keras expect: ``DIR/<class>/...``,
or ``DIR/train/<class>/...`` with ``DIR/test/<class>/...`` (and optionally ``DIR/val/``);
see :mod:`nanocnn.datasets.folder` and docs/images.md. Without a test folder, a seeded,
stratified share of each class is held out for the test report; the model records those
pictures by path and content (:mod:`nanocnn.datasets.held_out`), so ``nanocnn evaluate`` tests
on the same pictures, and only on those still there unchanged.

No augmentation unless named (``--augment flip,shift,brightness``): which changes keep a
picture's class depends on the pictures (a mirrored letter is no letter), and in the time a
default run takes, shifts and flips did not pay on the folders measured (docs/recipes.md:
the best recipe ``nanocnn tune`` found used none); ``nanocnn tune`` tries them.

Pictures are stored as uint8 (N, C, S, S) and become floats batch by batch: normalised per
channel with the mean and standard deviation of the training pictures, which the model
carries in ``metadata["normalization"]``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from nanocnn.datasets import held_out
from nanocnn.datasets.folder import load_image_folder
from nanocnn.datasets.image_arrays import channel_stats, load_images, read_image
from nanocnn.errors import DataError
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
                "test_files": held_out.record(
                    options.data_dir, folder.test_files, folder.y_test.tolist()
                ),
            },
            description=(
                f"pictures of {len(folder.classes)} classes ({folder.channels}x{size}x{size}) "
                f"from {options.data_dir}"
            ),
        )

    def test_data(self, model: Sequential, data_dir: Path | None) -> Pair:
        """The pictures of ``data_dir`` the model's training run tested on, found by path and
        content (``metadata["test_files"]``); those missing or changed since are left out,
        with a warning. A model from before the record: its seeded split of the folder."""
        if data_dir is None:
            raise ValueError("evaluating an images model needs --data-dir: its picture folder")
        channels, size, _ = model.metadata["input_shape"]
        recorded = model.metadata.get("test_files")
        if recorded is None:
            return self._split_again(model, data_dir)
        found = held_out.still_held_out(data_dir, recorded)
        if (note := found.note(data_dir)) is not None:
            warnings.warn(note, UserWarning, stacklevel=2)
        loaded = load_images(found.files, size, channels, progress="off")
        if loaded.unreadable:
            raise DataError(f"{loaded.unreadable[0]}: a test picture that can no longer be read")
        return loaded.x, np.array(found.labels, np.int64)

    def _split_again(self, model: Sequential, data_dir: Path) -> Pair:
        """The seeded test split of ``data_dir`` that models trained before the test files
        were recorded used."""
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
