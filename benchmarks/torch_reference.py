"""The same networks in PyTorch, with nanocnn's initial weights copied over by name.

nanocnn names parameters as ``nn.Sequential`` does (``"0.weight"``) with PyTorch's shapes, so
a nanocnn model translates layer by layer and its state dict loads as it is. Only this module
imports torch, and only when called: torch is an optional benchmark dependency.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import nanocnn as nc

TORCH_VERSION = "2.13.0"  # the version the benchmark was written against: pip install torch==...


def torch_available() -> bool:
    """Whether ``import torch`` would succeed, without importing it."""
    return importlib.util.find_spec("torch") is not None


def to_torch(model: nc.Sequential) -> Any:
    """A ``torch.nn.Sequential`` with the same layers and the same weights as ``model``."""
    import torch
    from torch import nn

    layers: list[nn.Module] = []
    for layer in model:
        if isinstance(layer, nc.Conv2D):
            top, bottom, left, right = layer.pads
            if (top, left) != (bottom, right):
                raise ValueError(f"{layer!r}: asymmetric padding has no nn.Conv2d equivalent")
            layers.append(
                nn.Conv2d(
                    layer.in_channels,
                    layer.out_channels,
                    layer.kernel_size,
                    layer.stride,
                    (top, left),
                    bias="bias" in layer.params,
                )
            )
        elif isinstance(layer, nc.MaxPool2D):
            layers.append(nn.MaxPool2d(layer.kernel_size, layer.stride, layer.pads[::2]))
        elif isinstance(layer, nc.Dense):
            layers.append(
                nn.Linear(layer.in_features, layer.out_features, bias="bias" in layer.params)
            )
        elif isinstance(layer, nc.ReLU):
            layers.append(nn.ReLU())
        elif isinstance(layer, nc.Flatten):
            layers.append(nn.Flatten())
        elif isinstance(layer, nc.Dropout):
            layers.append(nn.Dropout(layer.p))
        else:
            raise ValueError(f"no PyTorch translation for {layer!r}")
    net = nn.Sequential(*layers)
    state = {name: torch.from_numpy(value.copy()) for name, value in model.state_dict().items()}
    net.load_state_dict(state)
    return net
