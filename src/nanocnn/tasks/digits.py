"""The digits task: classify small grayscale images stored in MNIST's IDX format.

MNIST itself by default (bundled, or downloaded and checked), or any data set in the same
format: a ``--data-dir`` holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (each gzipped or not), such as
Fashion-MNIST, KMNIST or EMNIST. Class names come from ``--class-names``, else a
``classes.txt`` beside the files (one name a line), else the labels' numbers.

Images are fed as float32 in [0, 1], as they always were for MNIST. How a new picture becomes
an input depends on how the training pictures were made, which the model records in
``metadata["centring"]``: for digits made as MNIST's were (light ink centred in a dark 28x28
field: ``looks_like_mnist``) "mnist", and ``predict`` and the app prepare a photo or a drawing
the same way (``preprocess_digit``: grayscale, dark ink on light paper inverted, cropped,
scaled into a 20x20 box, centred by mass); for any other data "none": the picture is read
as the IDX images are, gray, cropped to the model's aspect ratio and resized to its H x W.
The digits' augmentation (rotations, scaling) is the default for MNIST-like data only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nanocnn import augment
from nanocnn.augment import Augment
from nanocnn.datasets.image_arrays import read_image
from nanocnn.datasets.mnist import check_class_names, load_mnist, read_class_names
from nanocnn.images import ImageSource
from nanocnn.layers import Sequential
from nanocnn.preprocess import looks_like_mnist, preprocess_digit
from nanocnn.tasks.base import Option, Pair, TaskData, TaskOptions
from nanocnn.tasks.classification import ClassificationTask

DIGIT_SHAPE = [1, 28, 28]  # what preprocess_digit makes


class Digits(ClassificationTask):
    name = "digits"
    help = "classify MNIST digits, or any data set in MNIST's IDX format (the default)"
    data_dir_help = "the IDX files (default: the bundled MNIST)"
    options = (
        Option(
            "class_names",
            "the class names, comma-separated (default: classes.txt beside the IDX files, "
            "else the label numbers)",
        ),
    )

    def load(self, options: TaskOptions) -> TaskData:
        data = load_mnist(options.data_dir)
        x_train, y_train = data.x_train[: options.limit], data.y_train[: options.limit]
        x_test, y_test = data.x_test[: options.limit], data.y_test[: options.limit]
        source = "MNIST" if options.data_dir is None else str(options.data_dir)
        return TaskData(
            train=(x_train, y_train),
            test=(x_test, y_test),
            validation=None,
            metadata={
                "input_shape": list(x_train.shape[1:]),
                "classes": self.class_names(options, data.y_train),
                "centring": "mnist" if looks_like_mnist(data.x_train) else "none",
            },
            description=f"{source} images",
            tuned=options.data_dir is None,
        )

    def class_names(self, options: TaskOptions, labels: np.ndarray) -> list[str]:
        """``--class-names``, else the data folder's classes.txt, else "0", "1"... for the
        classes 0..K-1 of the training ``labels``."""
        given = options.own["class_names"]
        if given:
            names, source = [name.strip() for name in given.split(",")], "--class-names"
        elif options.data_dir and (from_file := read_class_names(options.data_dir)) is not None:
            names, source = from_file, f"{options.data_dir}/classes.txt"
        else:
            return [str(k) for k in range(int(labels.max()) + 1)]
        check_class_names(names, labels, source)
        return names

    def default_augment(self, data: TaskData) -> Augment | None:
        """The digits' rotations and scaling for MNIST-like digits; none for other data,
        whose invariances nanocnn cannot know (``--augment`` names them; ``tune`` tries)."""
        return augment.digits() if centring(data.metadata) == "mnist" else None

    def test_data(self, model: Sequential, data_dir: Path | None) -> Pair:
        data = load_mnist(data_dir, parts=("test",))
        return data.x_test, data.y_test

    def drawable(self, model: Sequential) -> bool:
        return centring(model.metadata) == "mnist"

    def prepare(self, model: Sequential, image: ImageSource) -> np.ndarray:
        """The picture as the model's training pictures were made (see the module)."""
        if centring(model.metadata) == "mnist":
            return preprocess_digit(image).astype(model.dtype)
        _, height, width = model.metadata.get("input_shape", DIGIT_SHAPE)
        pixels = read_image(image, size=(height, width), channels=1)
        return pixels.astype(model.dtype) / 255


def centring(metadata: dict[str, Any]) -> str:
    """How a digits model's training pictures were centred: "mnist" or "none". A model from
    before the metadata said so is "mnist" when it takes MNIST's 1x28x28 pictures."""
    recorded = metadata.get("centring")
    if recorded in ("mnist", "none"):
        return str(recorded)
    return "mnist" if metadata.get("input_shape", DIGIT_SHAPE) == DIGIT_SHAPE else "none"
