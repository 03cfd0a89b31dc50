"""The two reference networks, built with nanocnn's public API, and their FLOP counts.

LeNet-5:   Conv(1->6, 5x5) ReLU MaxPool2 -> Conv(6->16, 5x5) ReLU MaxPool2
           -> Dense 256->120 ReLU -> 120->84 ReLU -> 84->10
Wide CNN:  Conv(1->32, 3x3, pad 1) ReLU MaxPool2 -> Conv(32->64, 3x3, pad 1) ReLU MaxPool2
           -> Dense 3136->128 ReLU -> 128->10

FLOPs count a multiply-add as 2. A training step costs about 3x the forward pass: the backward
of a convolution or dense layer is two products the size of its forward one (dW and dx).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import nanocnn as nc

INPUT_SHAPE = (1, 28, 28)  # one MNIST image, (C, H, W)
TRAIN_FLOPS_PER_FORWARD = 3  # forward + backward (dW and dx), each about the forward's size


def lenet(seed: int = 0) -> nc.Sequential:
    """LeNet-5 for 28x28 inputs (no padding, so 16 x 4 x 4 = 256 features reach the dense)."""
    rng = np.random.default_rng(seed)
    return nc.Sequential(
        nc.Conv2D(1, 6, 5, rng=rng), nc.ReLU(), nc.MaxPool2D(2),
        nc.Conv2D(6, 16, 5, rng=rng), nc.ReLU(), nc.MaxPool2D(2),
        nc.Flatten(),
        nc.Dense(256, 120, rng=rng), nc.ReLU(),
        nc.Dense(120, 84, rng=rng), nc.ReLU(),
        nc.Dense(84, 10, rng=rng),
    )  # fmt: skip


def wide_cnn(seed: int = 0) -> nc.Sequential:
    """Two padded 3x3 convolutions of 32 and 64 channels, then a 3136 -> 128 -> 10 head."""
    rng = np.random.default_rng(seed)
    return nc.Sequential(
        nc.Conv2D(1, 32, 3, padding=1, rng=rng), nc.ReLU(), nc.MaxPool2D(2),
        nc.Conv2D(32, 64, 3, padding=1, rng=rng), nc.ReLU(), nc.MaxPool2D(2),
        nc.Flatten(),
        nc.Dense(64 * 7 * 7, 128, rng=rng), nc.ReLU(),
        nc.Dense(128, 10, rng=rng),
    )  # fmt: skip


NETWORKS: dict[str, Callable[[int], nc.Sequential]] = {"lenet": lenet, "wide": wide_cnn}
TITLES = {"lenet": "LeNet-5", "wide": "Wide CNN"}


def forward_flops(model: nc.Sequential) -> int:
    """FLOPs of one image's forward pass: 2 x the multiply-adds of every Conv2D and Dense."""
    x = np.zeros((1, *INPUT_SHAPE), dtype=model.dtype)
    flops = 0
    for layer in model:
        out = layer.forward(x)
        if isinstance(layer, nc.Conv2D):
            flops += 2 * out.size * layer.params["weight"][0].size  # (C_in * kh * kw) per output
        elif isinstance(layer, nc.Dense):
            flops += 2 * layer.params["weight"].size
        x = out
    return flops


def train_flops(model: nc.Sequential) -> int:
    """FLOPs of one image's training step (forward and backward)."""
    return TRAIN_FLOPS_PER_FORWARD * forward_flops(model)
