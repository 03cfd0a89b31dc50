"""The benchmarked networks, nanocnn's own presets (:mod:`nanocnn.presets`), and their FLOPs.

LeNet-5 (``lenet``): Conv(1->6, 5x5) ReLU MaxPool2 -> Conv(6->16, 5x5) ReLU MaxPool2
                     -> Dense 256->120 ReLU -> 120->84 ReLU -> 84->10
CNN (``cnn``, the command line's default): Conv(1->32, 3x3, pad 1) ReLU MaxPool2
                     -> Conv(32->64, 3x3, pad 1) ReLU MaxPool2 -> Dense 3136->128 ReLU
                     -> Dropout 0.25 -> 128->10

ResNet-8 (``resnet``): Conv(1->16, 3x3) BN ReLU -> 3 basic blocks (16, 32 /2, 64 /2 channels;
                     conv3x3-BN-ReLU-conv3x3-BN plus the input, or a 1x1 conv-BN of it) each
                     followed by ReLU -> GlobalAvgPool -> Dense 64->10
ResNet-8 64x64 RGB (``resnet64``): the same preset built for (3, 64, 64) colour images (a
                     photo task's size), on random data of that shape

FLOPs count a multiply-add as 2. A training step costs about 3x the forward pass: the backward
of a convolution or dense layer is two products the size of its forward one (dW and dx).
"""

from __future__ import annotations

import numpy as np

import nanocnn as nc
from nanocnn import presets

NETWORKS = ("lenet", "cnn", "resnet", "resnet64")  # the benchmarked networks: see build()
TITLES = {"lenet": "LeNet-5", "cnn": "CNN", "resnet": "ResNet-8", "resnet64": "ResNet-8 64x64 RGB"}
INPUT_SHAPE = (1, 28, 28)  # one MNIST image, (C, H, W)
# the networks that are a preset on other inputs than MNIST's: (preset, input shape)
VARIANTS = {"resnet64": ("resnet", (3, 64, 64))}
TRAIN_FLOPS_PER_FORWARD = 3  # forward + backward (dW and dx), each about the forward's size


def input_shape(network: str) -> tuple[int, int, int]:
    """One input image of ``network``, (C, H, W)."""
    return VARIANTS[network][1] if network in VARIANTS else INPUT_SHAPE


def build(network: str, seed: int = 0) -> nc.Sequential:
    """The model ``network`` names: its preset for its input shape, 10 classes."""
    preset = VARIANTS[network][0] if network in VARIANTS else network
    return presets.build(preset, input_shape(network), seed=seed)


def forward_flops(model: nc.Sequential, shape: tuple[int, int, int] = INPUT_SHAPE) -> int:
    """FLOPs of one image's forward pass on one image of ``shape`` (C, H, W): 2 x the
    multiply-adds of every Conv2D and Dense, inside containers too."""
    return _flops(model, np.zeros((1, *shape), dtype=model.dtype))[0]


def _flops(layer: nc.Layer, x: np.ndarray) -> tuple[int, np.ndarray]:
    """(FLOPs, output) of ``layer`` on the one-image batch ``x``."""
    if isinstance(layer, nc.Sequential):
        total = 0
        for child in layer:
            flops, x = _flops(child, x)
            total += flops
        return total, x
    if isinstance(layer, nc.Residual):
        body, out = _flops(layer.body, x)
        shortcut, skip = (0, x) if layer.shortcut is None else _flops(layer.shortcut, x)
        return body + shortcut, out + skip
    out = layer.forward(x)
    if isinstance(layer, nc.Conv2D):
        return 2 * out.size * layer.params["weight"][0].size, out  # (C_in kh kw) per output
    if isinstance(layer, nc.Dense):
        return 2 * layer.params["weight"].size, out
    return 0, out


def train_flops(model: nc.Sequential, shape: tuple[int, int, int] = INPUT_SHAPE) -> int:
    """FLOPs of one image's training step (forward and backward) on one image of ``shape``."""
    return TRAIN_FLOPS_PER_FORWARD * forward_flops(model, shape)
