"""The benchmarked networks, nanocnn's own presets (:mod:`nanocnn.presets`), and their FLOPs.

LeNet-5 (``lenet``): Conv(1->6, 5x5) ReLU MaxPool2 -> Conv(6->16, 5x5) ReLU MaxPool2
                     -> Dense 256->120 ReLU -> 120->84 ReLU -> 84->10
CNN (``cnn``, the command line's default): Conv(1->32, 3x3, pad 1) ReLU MaxPool2
                     -> Conv(32->64, 3x3, pad 1) ReLU MaxPool2 -> Dense 3136->128 ReLU
                     -> Dropout 0.25 -> 128->10

FLOPs count a multiply-add as 2. A training step costs about 3x the forward pass: the backward
of a convolution or dense layer is two products the size of its forward one (dW and dx).
"""

from __future__ import annotations

import numpy as np

import nanocnn as nc

NETWORKS = ("lenet", "cnn")  # preset names: nanocnn.presets.build(name, seed=seed)
TITLES = {"lenet": "LeNet-5", "cnn": "CNN"}
INPUT_SHAPE = (1, 28, 28)  # one MNIST image, (C, H, W)
TRAIN_FLOPS_PER_FORWARD = 3  # forward + backward (dW and dx), each about the forward's size


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
