"""A small model holding every layer type, with random weights and BatchNorm statistics: the
model the export and exchange tests carry to ONNX and PyTorch and back."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

import nanocnn as nc

INPUT_SHAPE = (3, 13, 11)  # not square, so that height and width cannot be swapped unseen


def every_layer_model(seed: int = 0) -> nc.Sequential:
    """(N, 3, 13, 11) -> (N, 5) probabilities. An even kernel with "same" padding (one more
    pad at the bottom/right), a stride-2 convolution with different pads per axis, padded and
    overlapping pools, a ReLU before a MaxPool2D (which nanocnn runs after it), both
    BatchNorms with running statistics that are not the identity, containers nested three
    deep: a Residual with the identity shortcut, one whose shortcut is a Sequential holding
    another Residual, and one whose shortcut is a single layer."""
    rng = np.random.default_rng(seed)
    model = nc.Sequential(
        nc.Conv2D(3, 4, 4, padding="same", rng=rng), nc.BatchNorm2D(4), nc.LeakyReLU(0.1),
        nc.MaxPool2D(3, stride=2, padding=1),  # -> (4, 7, 6)
        nc.Residual(nc.Conv2D(4, 4, 3, padding=1, rng=rng), nc.BatchNorm2D(4)),
        nc.Residual(
            nc.Conv2D(4, 6, 3, stride=2, padding=(1, 2), rng=rng), nc.Sigmoid(),  # -> (6, 4, 4)
            shortcut=nc.Sequential(
                nc.Conv2D(4, 6, 1, stride=2, padding=(0, 1), bias=False, rng=rng),
                nc.Residual(nc.ReLU(), nc.Conv2D(6, 6, 1, rng=rng)),
            ),
        ),
        nc.AvgPool2D(3, stride=1, padding=1), nc.ReLU(),
        nc.MaxPool2D(3, stride=1),  # -> (6, 2, 2)
        nc.AvgPool2D(2, stride=1, padding=1),  # -> (6, 3, 3)
        nc.Conv2D(6, 8, (2, 3), bias=False, rng=rng),  # -> (8, 2, 1)
        nc.Residual(  # -> (8,)
            nc.GlobalAvgPool2D(),
            shortcut=nc.Sequential(nc.Conv2D(8, 8, (2, 1), rng=rng), nc.Flatten()),
        ),
        nc.Dense(8, 12, rng=rng), nc.BatchNorm1D(12), nc.Tanh(),
        nc.Residual(nc.Dropout(0.3, rng=rng), nc.Dense(12, 12, rng=rng), shortcut=nc.Tanh()),
        nc.Dense(12, 5, bias=False, rng=rng), nc.Softmax(),
    )  # fmt: skip
    for layer in model.modules():
        for values in (*layer.params.values(), *layer.buffers.values()):
            values[...] = rng.normal(0.0, 0.5, values.shape)
        if "running_var" in layer.buffers:
            layer.buffers["running_var"][...] = rng.uniform(0.5, 2.0, layer.num_features)
    model.metadata["input_shape"] = list(INPUT_SHAPE)
    return model


def every_layer(model: nc.Layer) -> Iterator[nc.Layer]:
    """``model`` and every layer inside it, containers included, depth first."""
    yield model
    if isinstance(model, nc.layers.container.Container):
        for _, child in model.children():
            yield from every_layer(child)
