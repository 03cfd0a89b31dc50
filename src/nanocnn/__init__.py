"""nanocnn: convolutional neural networks from scratch in NumPy.

Every layer's forward and backward pass is written by hand, checked against numerical
gradients (:func:`gradcheck`) and vectorised (im2col + one matrix product per convolution).
"""

from nanocnn import export, saliency  # nc.export.to_onnx, nc.saliency.saliency_map
from nanocnn.errors import (
    BlankImageError,
    DataError,
    InputShapeError,
    ModelFileError,
    NanocnnError,
    NonFiniteLossError,
)
from nanocnn.gradcheck import gradcheck, gradcheck_loss
from nanocnn.io import load, load_weights, save
from nanocnn.layers import (
    LAYER_TYPES,
    AvgPool2D,
    BatchNorm1D,
    BatchNorm2D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAvgPool2D,
    Layer,
    LeakyReLU,
    MaxPool2D,
    ReLU,
    Residual,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
    register_layer,
)
from nanocnn.losses import (
    BCEWithLogitsLoss,
    HuberLoss,
    L1Loss,
    Loss,
    MSELoss,
    SoftmaxCrossEntropy,
)
from nanocnn.optim import SGD, Adam, AdamW, Optimizer
from nanocnn.version import __version__

__all__ = [
    "LAYER_TYPES",
    "SGD",
    "Adam",
    "AdamW",
    "AvgPool2D",
    "BCEWithLogitsLoss",
    "BatchNorm1D",
    "BatchNorm2D",
    "BlankImageError",
    "Conv2D",
    "DataError",
    "Dense",
    "Dropout",
    "Flatten",
    "GlobalAvgPool2D",
    "HuberLoss",
    "InputShapeError",
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
    "Residual",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "SoftmaxCrossEntropy",
    "Tanh",
    "__version__",
    "export",
    "gradcheck",
    "gradcheck_loss",
    "load",
    "load_weights",
    "register_layer",
    "saliency",
    "save",
]
