"""Ready-made architectures, by name, each built for the input it is given: the ones the
command line trains. Every builder takes ``(rng, input_shape, outputs)``: the shape of one
input (C, H, W) and the number of outputs (classes, or 1 for a regression).

- ``cnn`` (the default): two 3x3 conv blocks of 32 and 64 channels, each followed by ReLU and
  2x2 max pooling, then a 128-unit dense layer with dropout. Reaches over 99.2% MNIST test
  accuracy in a few epochs.
- ``lenet``: LeNet-5 as in LeCun et al. 1998, with ReLU and max pooling.
- ``mlp``: a plain fully connected network (784 -> 256 -> 128 -> 10 on MNIST), the "NN" beside
  the CNN.
- ``resnet``: a small residual network for 28-64 px inputs (the CIFAR ResNet of He et al.
  2015, section 4.2, at depth 8): a 3x3 conv-BN-ReLU stem of 16 channels, three stages of
  basic blocks (16, 32, 64 channels; the second and third halve the size), global average
  pooling and one dense layer; about 78k parameters at (1, 28, 28). Its recipe is SGD with
  Nesterov momentum, weight decay off the norms and biases, a one-cycle schedule and label
  smoothing (see docs/resnet.md).
- ``age_cnn``: the UTKFace age regressor of the project nanocnn replaces: three 3x3 conv blocks
  of 16, 32 and 64 channels (ReLU, 2x2 max pooling), dense 128.

Built for MNIST's (1, 28, 28) and 10 classes, ``cnn``, ``lenet`` and ``mlp`` are exactly the
networks they always were (same layers, same weights for the same seed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from nanocnn.layers import (
    BatchNorm2D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAvgPool2D,
    MaxPool2D,
    ReLU,
    Residual,
    Sequential,
)

Shape = tuple[int, int, int]  # one input: (channels, height, width)


def cnn(rng: np.random.Generator, input_shape: Shape, outputs: int) -> Sequential:
    """(N, C, H, W) -> (N, outputs); about 421k parameters at (1, 28, 28) with 10 classes."""
    channels, height, width = _at_least(input_shape, 4, "cnn")
    return Sequential(
        Conv2D(channels, 32, 3, padding=1, rng=rng), ReLU(), MaxPool2D(2),  # -> (32, H/2, W/2)
        Conv2D(32, 64, 3, padding=1, rng=rng), ReLU(), MaxPool2D(2),  # -> (64, H/4, W/4)
        Flatten(),  # -> (64 (H/4) (W/4),)
        Dense(64 * (height // 4) * (width // 4), 128, rng=rng), ReLU(), Dropout(0.25, rng=rng),
        Dense(128, outputs, rng=rng),
    )  # fmt: skip


def lenet(rng: np.random.Generator, input_shape: Shape, outputs: int) -> Sequential:
    """(N, C, H, W) -> (N, outputs); 44,426 parameters at (1, 28, 28) with 10 classes."""
    channels, height, width = _at_least(input_shape, 16, "lenet")
    # each 5x5 convolution takes 4 pixels, each pooling halves: 28 -> 24 -> 12 -> 8 -> 4
    rows, columns = (((side - 4) // 2 - 4) // 2 for side in (height, width))
    return Sequential(
        Conv2D(channels, 6, 5, rng=rng), ReLU(), MaxPool2D(2),  # -> (6, 12, 12) at 28x28
        Conv2D(6, 16, 5, rng=rng), ReLU(), MaxPool2D(2),  # -> (16, 4, 4)
        Flatten(),  # -> (256,)
        Dense(16 * rows * columns, 120, rng=rng), ReLU(),
        Dense(120, 84, rng=rng), ReLU(),
        Dense(84, outputs, rng=rng),
    )  # fmt: skip


def mlp(rng: np.random.Generator, input_shape: Shape, outputs: int) -> Sequential:
    """(N, C, H, W) -> (N, outputs); about 235k parameters at (1, 28, 28) with 10 classes."""
    channels, height, width = input_shape
    return Sequential(
        Flatten(),  # -> (C H W,)
        Dense(channels * height * width, 256, rng=rng), ReLU(), Dropout(0.2, rng=rng),
        Dense(256, 128, rng=rng), ReLU(),
        Dense(128, outputs, rng=rng),
    )  # fmt: skip


def age_cnn(rng: np.random.Generator, input_shape: Shape, outputs: int) -> Sequential:
    """(N, C, S, S) -> (N, outputs): for the age task the standardised age (the task maps it
    back to years). The 3x3 convolutions (padding 1) keep the size and each pooling halves
    it, rounding down, so 64 (S/8)^2 features reach the dense layers: about 2.1M parameters
    at S = 128, 0.55M at S = 64.
    """
    channels, height, width = _at_least(input_shape, 8, "age_cnn")
    return Sequential(
        Conv2D(channels, 16, 3, padding=1, rng=rng), ReLU(), MaxPool2D(2),  # -> (16, S/2, S/2)
        Conv2D(16, 32, 3, padding=1, rng=rng), ReLU(), MaxPool2D(2),  # -> (32, S/4, S/4)
        Conv2D(32, 64, 3, padding=1, rng=rng), ReLU(), MaxPool2D(2),  # -> (64, S/8, S/8)
        Flatten(),  # -> (64 (S/8)^2,)
        Dense(64 * (height // 8) * (width // 8), 128, rng=rng), ReLU(),
        Dense(128, outputs, rng=rng),
    )  # fmt: skip


def basic_block(
    rng: np.random.Generator, in_channels: int, out_channels: int, stride: int = 1
) -> Residual:
    """torchvision's ``BasicBlock`` without its last ReLU (the model's next layer):
    conv3x3(stride)-BN-ReLU-conv3x3-BN, plus the input, or a 1x1 conv(stride)-BN of it when
    the block changes the channels or the size. (N, in, H, W) -> (N, out, H/stride, W/stride)."""
    shortcut = None
    if (in_channels, stride) != (out_channels, 1):
        shortcut = Sequential(
            Conv2D(in_channels, out_channels, 1, stride=stride, bias=False, rng=rng),
            BatchNorm2D(out_channels),
        )
    return Residual(
        Conv2D(in_channels, out_channels, 3, stride, padding=1, bias=False, rng=rng),
        BatchNorm2D(out_channels), ReLU(),
        Conv2D(out_channels, out_channels, 3, padding=1, bias=False, rng=rng),
        BatchNorm2D(out_channels),
        shortcut=shortcut,
    )  # fmt: skip


def resnet(
    rng: np.random.Generator, input_shape: Shape, outputs: int, blocks: int = 1
) -> Sequential:
    """(N, C, H, W) -> (N, outputs): ResNet-(6 blocks + 2) for ``blocks`` basic blocks per
    stage, ResNet-8 by default (ResNet-14 with 2). Any size from 8x8 up: the global pooling
    takes whatever the stages leave (H/4 x W/4, rounded up)."""
    channels, _, _ = _at_least(input_shape, 8, "resnet")
    layers = [Conv2D(channels, 16, 3, padding=1, bias=False, rng=rng), BatchNorm2D(16), ReLU()]
    width = 16
    for stage, out_channels in enumerate((16, 32, 64)):  # -> (16, H, W), (32, H/2, W/2), ...
        for index in range(blocks):
            stride = 2 if stage > 0 and index == 0 else 1
            layers += [basic_block(rng, width, out_channels, stride), ReLU()]
            width = out_channels
    layers += [GlobalAvgPool2D(), Dense(64, outputs, rng=rng)]  # -> (64,) -> (outputs,)
    return Sequential(*layers)


def _at_least(input_shape: Shape, side: int, name: str) -> Shape:
    """``input_shape`` as (C, H, W), if its images are at least ``side`` pixels each way."""
    channels, height, width = (int(n) for n in input_shape)
    if min(height, width) < side:
        raise ValueError(
            f"{name} needs images of at least {side}x{side} pixels, got {height}x{width}"
        )
    return channels, height, width


@dataclass(frozen=True)
class Preset:
    """An architecture and the training recipe that suits it (the command line's defaults)."""

    build: Callable[[np.random.Generator, Shape, int], Sequential]  # a model, fresh weights
    epochs: int  # the length of the run the schedule spans
    lr: float  # the starting (for "onecycle": the peak) learning rate
    batch_size: int = 64
    augment: bool = False  # train with the task's random augmentation unless told otherwise
    optimizer: str = "adam"  # "adam", or "sgd": momentum 0.9, Nesterov
    schedule: str = "cosine"  # "cosine", "onecycle", "step", "plateau" or "none"
    weight_decay: float = 0.0  # skipping norms and biases (nanocnn.optim.norms_and_biases)
    label_smoothing: float = 0.0  # of a classification task's SoftmaxCrossEntropy
    patience: int = 0  # early stopping after so many epochs without progress; 0: none


PRESETS: dict[str, Preset] = {
    "cnn": Preset(cnn, epochs=4, lr=2e-3, augment=True),
    "lenet": Preset(lenet, epochs=8, lr=2e-3),
    "mlp": Preset(mlp, epochs=12, lr=1e-3),
    "age_cnn": Preset(age_cnn, epochs=20, lr=2e-3, batch_size=32),
    "resnet": Preset(
        resnet,
        epochs=13,
        lr=0.2,
        batch_size=128,
        augment=True,
        optimizer="sgd",
        schedule="onecycle",
        weight_decay=5e-4,
        label_smoothing=0.1,
    ),
}


def build(
    name: str, input_shape: Shape = (1, 28, 28), outputs: int = 10, seed: int = 0
) -> Sequential:
    """The preset ``name`` for inputs of ``input_shape`` (C, H, W) and ``outputs`` outputs,
    with weights drawn from ``seed``, e.g. ``build("cnn", (3, 32, 32), outputs=5)``."""
    if name not in PRESETS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(PRESETS)}")
    channels, height, width = (int(n) for n in input_shape)  # a list from metadata, too
    model = PRESETS[name].build(np.random.default_rng(seed), (channels, height, width), outputs)
    model.metadata["preset"] = name
    return model
