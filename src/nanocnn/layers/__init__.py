"""Every layer, and the registry that rebuilds a layer from its saved name and config."""

from nanocnn.layers.activations import LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from nanocnn.layers.base import Layer
from nanocnn.layers.batchnorm import BatchNorm1D, BatchNorm2D
from nanocnn.layers.conv import Conv2D
from nanocnn.layers.dense import Dense, Flatten
from nanocnn.layers.dropout import Dropout
from nanocnn.layers.pool import AvgPool2D, MaxPool2D

LAYER_TYPES: dict[str, type[Layer]] = {
    cls.__name__: cls
    for cls in (
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
    )
}

__all__ = ["LAYER_TYPES", "Layer", *LAYER_TYPES]
