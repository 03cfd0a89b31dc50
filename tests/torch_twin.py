"""The ``torch.nn`` twin of a nanocnn model, layer by layer (containers nested the same way),
with the same parameter names, for the PyTorch exchange and parity tests."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import nanocnn as nc


def torch_twin(model: nc.Layer, torch: ModuleType) -> Any:
    """The ``torch.nn`` module that computes what ``model`` does (fresh weights, float64):
    ``nn.Sequential`` for a Sequential, a module with ``body`` and ``shortcut`` for a
    Residual (docs/resnet.md), one ``nn`` layer for each other layer."""
    nn = torch.nn
    kind, config = type(model).__name__, model.config()
    if isinstance(model, nc.Sequential):
        return nn.Sequential(*(torch_twin(layer, torch) for layer in model)).double()
    if isinstance(model, nc.Residual):
        shortcut = None if model.shortcut is None else torch_twin(model.shortcut, torch)
        return residual_twin(torch_twin(model.body, torch), shortcut, torch).double()
    if kind == "Conv2D":
        padding = config["padding"]  # "same", "valid", an int or [ph, pw]
        padding = tuple(padding) if isinstance(padding, list) else padding
        size, stride = tuple(config["kernel_size"]), tuple(config["stride"])
        channels = (config["in_channels"], config["out_channels"])
        return nn.Conv2d(*channels, size, stride, padding, bias=config["bias"]).double()
    if kind in ("MaxPool2D", "AvgPool2D"):
        pool = nn.MaxPool2d if kind == "MaxPool2D" else nn.AvgPool2d  # count_include_pad
        return pool(*(tuple(config[key]) for key in ("kernel_size", "stride", "padding")))
    if kind == "Dense":
        return nn.Linear(config["in_features"], config["out_features"], config["bias"]).double()
    if kind in ("BatchNorm1D", "BatchNorm2D"):
        norm = nn.BatchNorm1d if kind == "BatchNorm1D" else nn.BatchNorm2d
        return norm(config["num_features"], config["eps"], config["momentum"]).double()
    if kind == "GlobalAvgPool2D":
        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
    if kind == "LeakyReLU":
        return nn.LeakyReLU(config["negative_slope"])
    if kind == "Dropout":
        return nn.Dropout(config["p"])
    if kind == "Softmax":
        return nn.Softmax(dim=-1)
    return {"Flatten": nn.Flatten, "ReLU": nn.ReLU, "Sigmoid": nn.Sigmoid, "Tanh": nn.Tanh}[kind]()


def residual_twin(body: Any, shortcut: Any, torch: ModuleType) -> Any:
    """``Residual``'s twin: ``body(x) + shortcut(x)`` with the attributes ``body`` and
    ``shortcut`` (absent for the identity), hence the names ``body.0.weight``..."""

    class ResidualTwin(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = body
            if shortcut is not None:
                self.shortcut = shortcut

        def forward(self, x: Any) -> Any:
            skip = x if shortcut is None else self.shortcut(x)
            return self.body(x) + skip

    return ResidualTwin()
