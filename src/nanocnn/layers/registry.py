"""The layer types a model file may name, and the checks that make a layer savable.

A model file stores each layer as ``{"type": <class name>, **layer.config()}`` and the loader
rebuilds it from ``LAYER_TYPES`` (never by importing what a file names). A layer of your own
is savable once registered, with one call that also works as a class decorator:

>>> @register_layer  # doctest: +SKIP
... class Scale(Layer): ...
"""

from __future__ import annotations

import math
from typing import Any, TypeVar

from nanocnn.layers.base import Layer
from nanocnn.layers.container import Container

LayerClass = TypeVar("LayerClass", bound=type[Layer])

LAYER_TYPES: dict[str, type[Layer]] = {}


def register_layer(cls: LayerClass) -> LayerClass:
    """Make ``cls`` (a ``Layer`` subclass) savable and loadable under its class name; returns
    ``cls``, so it works as a decorator.

    Raises ValueError if another class is registered under that name (a class redefined in
    the same module, as when a notebook cell runs again, replaces its old version).
    """
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise TypeError(f"register_layer() takes a Layer subclass, got {cls!r}")
    name = cls.__name__
    known = LAYER_TYPES.get(name)
    if known is not None and _origin(known) != _origin(cls):
        raise ValueError(
            f"cannot register {_origin(cls)} as {name!r}: that name is {_origin(known)}'s"
        )
    LAYER_TYPES[name] = cls
    return cls


def layer_type_name(layer: Layer) -> str:
    """The name a model file stores for ``layer``; ValueError if its class is not registered."""
    cls = type(layer)
    if LAYER_TYPES.get(cls.__name__) is not cls:
        raise ValueError(
            f"{cls.__name__} is not registered: call nanocnn.register_layer({cls.__name__}) "
            f"before saving a model that uses it"
        )
    return cls.__name__


def layer_spec(layer: Layer) -> dict[str, Any]:
    """``{"type": name, **layer.config()}``, checked to be registered and plain JSON. A
    container's config holds its children's specs; a ``Sequential``'s (a list of them) is
    stored as ``{"type": "Sequential", "layers": [...]}``.

    Raises ValueError naming the layer and the argument whose value is not a JSON value
    (``None``, bool, int, finite float, str, or lists and str-keyed dicts of them).
    """
    name = layer_type_name(layer)
    config: Any = layer.config()
    if isinstance(config, list):
        config = {"layers": config}
    for key, value in config.items():
        if not _is_json(value):
            raise ValueError(
                f"{name}.config() must hold only JSON values (int, float, str, bool, None, "
                f"lists, dicts); {key!r} is {value!r} of type {type(value).__name__}"
            )
    return {"type": name, **config}


def build_layer(spec: dict[str, Any]) -> Layer:
    """The layer ``spec`` (from :func:`layer_spec`) describes, with fresh weights; a
    container (with its children, built by this function) through its ``from_spec``."""
    args = dict(spec)
    kind = args.pop("type", None)
    if kind not in LAYER_TYPES:
        raise ValueError(
            f"unknown layer type {kind!r}; a layer of your own must be registered with "
            f"nanocnn.register_layer before loading"
        )
    cls = LAYER_TYPES[kind]
    if issubclass(cls, Container):
        return cls.from_spec(args)
    return cls(**args)


def _is_json(value: Any) -> bool:
    if value is None or type(value) in (bool, int, str):
        return True
    if type(value) is float:
        return math.isfinite(value)
    if type(value) is list:
        return all(_is_json(item) for item in value)
    if type(value) is dict:
        return all(type(key) is str and _is_json(item) for key, item in value.items())
    return False


def _origin(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
