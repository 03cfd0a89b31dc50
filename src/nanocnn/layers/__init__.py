"""Every layer, the containers that nest them (``Sequential``, ``Residual``), and the
registry that rebuilds a layer from its saved name and config. Each built-in layer class
registers itself with ``@register_layer``, as a layer of your own does."""

from nanocnn.layers.activations import LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from nanocnn.layers.base import Layer
from nanocnn.layers.batchnorm import BatchNorm1D, BatchNorm2D
from nanocnn.layers.container import Container
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
from nanocnn.layers.sequential import Sequential

__all__ = [
    "LAYER_TYPES",
    "AvgPool2D",
    "BatchNorm1D",
    "BatchNorm2D",
    "Container",
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
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "build_layer",
    "layer_spec",
    "layer_type_name",
    "register_layer",
]
