"""Every layer, and the registry that rebuilds a layer from its saved name and config."""

from nanocnn.layers.activations import LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from nanocnn.layers.base import Layer
from nanocnn.layers.batchnorm import BatchNorm1D, BatchNorm2D
from nanocnn.layers.conv import Conv2D
from nanocnn.layers.dense import Dense, Flatten
from nanocnn.layers.dropout import Dropout
from nanocnn.layers.pool import AvgPool2D, GlobalAvgPool2D, MaxPool2D
from nanocnn.layers.registry import (
    LAYER_TYPES,
    build_layer,
    layer_spec,
    layer_type_name,
    register_layer,
)
from nanocnn.layers.residual import Residual

for _cls in (
    Conv2D,
    MaxPool2D,
    AvgPool2D,
    Dense,
    Flatten,
    ReLU,
    LeakyReLU,
    Sigmoid,
    Tanh,
    Softmax,
    Dropout,
    BatchNorm1D,
    BatchNorm2D,
    GlobalAvgPool2D,
    Residual,
):
    register_layer(_cls)
del _cls

__all__ = [
    "LAYER_TYPES",
    "AvgPool2D",
    "BatchNorm1D",
    "BatchNorm2D",
    "Conv2D",
    "Dense",
    "Dropout",
    "Flatten",
    "GlobalAvgPool2D",
    "Layer",
    "LeakyReLU",
    "MaxPool2D",
    "ReLU",
    "Residual",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "build_layer",
    "layer_spec",
    "layer_type_name",
    "register_layer",
]
