"""Ready-made architectures, by name: the ones the command line trains.

- ``cnn`` (the default): two 3x3 conv blocks of 32 and 64 channels, each followed by ReLU and
  2x2 max pooling, then a 128-unit dense layer with dropout. Reaches over 99.2% MNIST test
  accuracy in a few epochs.
- ``lenet``: LeNet-5 as in LeCun et al. 1998, with ReLU and max pooling.
- ``mlp``: a plain fully connected network (784 -> 256 -> 128 -> 10), the "NN" beside the CNN.

For the age task, in :data:`AGE_PRESETS`:

- ``age_cnn``: the UTKFace age regressor of the project nanocnn replaces: three 3x3 conv blocks
  of 16, 32 and 64 channels (ReLU, 2x2 max pooling) on RGB faces, dense 128, one output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from nanocnn.layers import Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU
from nanocnn.model import Sequential


def cnn(rng: np.random.Generator) -> Sequential:
    """(N, 1, 28, 28) -> (N, 10) logits; about 421k parameters."""
    return Sequential(
        Conv2D(1, 32, 3, padding=1, rng=rng), ReLU(), MaxPool2D(2),  # -> (32, 14, 14)
        Conv2D(32, 64, 3, padding=1, rng=rng), ReLU(), MaxPool2D(2),  # -> (64, 7, 7)
        Flatten(),  # -> (3136,)
        Dense(64 * 7 * 7, 128, rng=rng), ReLU(), Dropout(0.25, rng=rng),
        Dense(128, 10, rng=rng),
    )  # fmt: skip


def lenet(rng: np.random.Generator) -> Sequential:
    """(N, 1, 28, 28) -> (N, 10) logits; 44,426 parameters."""
    return Sequential(
        Conv2D(1, 6, 5, rng=rng), ReLU(), MaxPool2D(2),  # -> (6, 12, 12)
        Conv2D(6, 16, 5, rng=rng), ReLU(), MaxPool2D(2),  # -> (16, 4, 4)
        Flatten(),  # -> (256,)
        Dense(256, 120, rng=rng), ReLU(),
        Dense(120, 84, rng=rng), ReLU(),
        Dense(84, 10, rng=rng),
    )  # fmt: skip


def mlp(rng: np.random.Generator) -> Sequential:
    """(N, 1, 28, 28) -> (N, 10) logits; about 235k parameters."""
    return Sequential(
        Flatten(),  # -> (784,)
        Dense(784, 256, rng=rng), ReLU(), Dropout(0.2, rng=rng),
        Dense(256, 128, rng=rng), ReLU(),
        Dense(128, 10, rng=rng),
    )  # fmt: skip


def age_cnn(rng: np.random.Generator, image_size: int = 128) -> Sequential:
    """(N, 3, S, S) -> (N, 1), S = ``image_size``: the age, standardised (the age job maps it
    back to years). The 3x3 convolutions (padding 1) keep the size and each pooling halves it,
    rounding down, so 64 (S/8)^2 features reach the dense layers: about 2.1M parameters at
    S = 128, 0.55M at S = 64.
    """
    if image_size < 8:
        raise ValueError(f"age_cnn needs images of at least 8x8 pixels, got {image_size}")
    side = image_size // 8
    return Sequential(
        Conv2D(3, 16, 3, padding=1, rng=rng), ReLU(), MaxPool2D(2),  # -> (16, S/2, S/2)
        Conv2D(16, 32, 3, padding=1, rng=rng), ReLU(), MaxPool2D(2),  # -> (32, S/4, S/4)
        Conv2D(32, 64, 3, padding=1, rng=rng), ReLU(), MaxPool2D(2),  # -> (64, S/8, S/8)
        Flatten(),  # -> (64 (S/8)^2,)
        Dense(64 * side * side, 128, rng=rng), ReLU(),
        Dense(128, 1, rng=rng),
    )  # fmt: skip


@dataclass(frozen=True)
class Preset:
    """An architecture and the training recipe that suits it (the command line's defaults)."""

    build: Callable[..., Sequential]  # build(rng, **options): a model with fresh weights
    epochs: int  # with a cosine learning-rate schedule over the whole run
    lr: float  # Adam's starting learning rate
    batch_size: int = 64
    augment: bool = False  # train with the task's random augmentation unless told otherwise


PRESETS: dict[str, Preset] = {
    "cnn": Preset(cnn, epochs=4, lr=2e-3, augment=True),
    "lenet": Preset(lenet, epochs=8, lr=2e-3),
    "mlp": Preset(mlp, epochs=12, lr=1e-3),
}


# The age task's architectures; apart from the digit ones, which take (N, 1, 28, 28) images.
AGE_PRESETS: dict[str, Preset] = {
    "age_cnn": Preset(age_cnn, epochs=20, lr=2e-3, batch_size=32),
}


def build(name: str, seed: int = 0, **options: Any) -> Sequential:
    """The preset ``name`` (digits or age) with weights drawn from ``seed``; ``options`` go to
    its builder, e.g. ``build("age_cnn", image_size=64)``."""
    presets = PRESETS | AGE_PRESETS
    if name not in presets:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(presets)}")
    model = presets[name].build(np.random.default_rng(seed), **options)
    model.metadata["preset"] = name
    return model
