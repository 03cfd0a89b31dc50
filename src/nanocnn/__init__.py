"""nanocnn: convolutional neural networks from scratch in NumPy.

Every layer's forward and backward pass is written by hand, checked against numerical
gradients (:func:`gradcheck`) and vectorised (im2col + one matrix product per convolution).
"""

from nanocnn import export  # nc.export.to_onnx, nc.export.load_weights
from nanocnn.errors import (
    BlankImageError,
    DataError,
    ModelFileError,
    NanocnnError,
    NonFiniteLossError,
)
from nanocnn.gradcheck import gradcheck, gradcheck_loss
from nanocnn.layers import (
    AvgPool2D,
    BatchNorm1D,
    BatchNorm2D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Layer,
    LeakyReLU,
    MaxPool2D,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from nanocnn.losses import HuberLoss, L1Loss, Loss, MSELoss, SoftmaxCrossEntropy
from nanocnn.model import Sequential, load
from nanocnn.optim import SGD, Adam, AdamW, Optimizer

__version__ = "0.1.0"

__all__ = [
    "SGD",
    "Adam",
    "AdamW",
    "AvgPool2D",
    "BatchNorm1D",
    "BatchNorm2D",
    "BlankImageError",
    "Conv2D",
    "DataError",
    "Dense",
    "Dropout",
    "Flatten",
    "HuberLoss",
    "L1Loss",
    "Layer",
    "LeakyReLU",
    "Loss",
    "MSELoss",
    "MaxPool2D",
    "ModelFileError",
    "NanocnnError",
    "NonFiniteLossError",
    "Optimizer",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "SoftmaxCrossEntropy",
    "Tanh",
    "export",
    "gradcheck",
    "gradcheck_loss",
    "load",
]
