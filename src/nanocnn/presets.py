"""Ready-made architectures, by name: the ones the command line trains.

- ``cnn`` (the default): two 3x3 conv blocks of 32 and 64 channels, each followed by ReLU and
  2x2 max pooling, then a 128-unit dense layer with dropout. Reaches over 99.2% MNIST test
  accuracy in a few epochs.
- ``lenet``: LeNet-5 as in LeCun et al. 1998, with ReLU and max pooling.
- ``mlp``: a plain fully connected network (784 -> 256 -> 128 -> 10), the "NN" beside the CNN.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Preset:
    """An architecture and the training recipe that suits it (the command line's defaults)."""

    build: Callable[[np.random.Generator], Sequential]
    epochs: int  # with a cosine learning-rate schedule over the whole run
    lr: float  # Adam's starting learning rate
    batch_size: int = 64


PRESETS: dict[str, Preset] = {
    "cnn": Preset(cnn, epochs=4, lr=2e-3),
    "lenet": Preset(lenet, epochs=8, lr=2e-3),
    "mlp": Preset(mlp, epochs=12, lr=1e-3),
}


def build(name: str, seed: int = 0) -> Sequential:
    """The preset ``name`` with weights drawn from ``seed``."""
    if name not in PRESETS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(PRESETS)}")
    model = PRESETS[name].build(np.random.default_rng(seed))
    model.metadata["preset"] = name
    return model
