"""The same networks in PyTorch: nanocnn's layers translated one by one, containers nested the
same way, so that the parameter names (``"0.weight"``, ``"3.body.0.weight"``) and shapes agree
and a nanocnn state dict loads as it is. The benchmark and the PyTorch tests both use it. Only
this module imports torch, and only when called: torch is an optional dependency.

``Residual``'s twin is a module with the attributes ``body`` (an ``nn.Sequential``) and
``shortcut`` (absent for the identity) whose forward is ``body(x) + shortcut(x)``;
``GlobalAvgPool2D``'s is ``nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())`` (no
parameters, so the names do not move).
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

    net = torch_module(model)
    state = {name: torch.from_numpy(value.copy()) for name, value in model.state_dict().items()}
    net.load_state_dict(state)
    return net


def torch_module(layer: nc.Layer) -> Any:
    """The ``torch.nn`` module that computes what ``layer`` does, with fresh weights in the
    layer's dtype (float32 unless converted)."""
    import torch
    from torch import nn

    if isinstance(layer, nc.Sequential):
        return nn.Sequential(*(torch_module(child) for child in layer))
    if isinstance(layer, nc.Residual):
        shortcut = None if layer.shortcut is None else torch_module(layer.shortcut)
        return residual_twin(torch_module(layer.body), shortcut)
    module = _leaf(layer, nn)
    dtype = torch.float64 if layer.dtype == "float64" else torch.float32
    return module.to(dtype)


def _leaf(layer: nc.Layer, nn: Any) -> Any:
    config = layer.config()
    kind = type(layer).__name__
    if kind == "Conv2D":
        padding = config["padding"]  # "same", "valid", an int or [ph, pw]
        padding = tuple(padding) if isinstance(padding, list) else padding
        size, stride = tuple(config["kernel_size"]), tuple(config["stride"])
        channels = (config["in_channels"], config["out_channels"])
        return nn.Conv2d(*channels, size, stride, padding, bias=config["bias"])
    if kind in ("MaxPool2D", "AvgPool2D"):
        pool = nn.MaxPool2d if kind == "MaxPool2D" else nn.AvgPool2d  # count_include_pad
        return pool(*(tuple(config[key]) for key in ("kernel_size", "stride", "padding")))
    if kind == "Dense":
        return nn.Linear(config["in_features"], config["out_features"], config["bias"])
    if kind in ("BatchNorm1D", "BatchNorm2D"):
        norm = nn.BatchNorm1d if kind == "BatchNorm1D" else nn.BatchNorm2d
        return norm(config["num_features"], config["eps"], config["momentum"])
    if kind == "GlobalAvgPool2D":
        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
    if kind == "LeakyReLU":
        return nn.LeakyReLU(config["negative_slope"])
    if kind == "Dropout":
        return nn.Dropout(config["p"])
    if kind == "Softmax":
        return nn.Softmax(dim=-1)
    simple = {"Flatten": nn.Flatten, "ReLU": nn.ReLU, "Sigmoid": nn.Sigmoid, "Tanh": nn.Tanh}
    if kind not in simple:
        raise ValueError(f"no PyTorch translation for {layer!r}")
    return simple[kind]()


def residual_twin(body: Any, shortcut: Any) -> Any:
    """``body(x) + shortcut(x)``, with ``body`` and ``shortcut`` as attributes."""
    from torch import nn

    class Residual(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = body
            if shortcut is not None:
                self.shortcut = shortcut

        def forward(self, x: Any) -> Any:
            return self.body(x) + (x if shortcut is None else self.shortcut(x))

    return Residual()
