"""``Sequential``: a model is a list of layers, run forward in order and backward in reverse.

Parameters get dotted names ``"<layer index>.<param name>"`` (``"0.weight"``), the same names
PyTorch's ``nn.Sequential`` gives, so state dicts move between the two. A model file holds the
weights *and* the architecture (each layer's type and constructor arguments), so the file
alone rebuilds the model: ``model.save(path)`` and ``nanocnn.load(path)``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from nanocnn.errors import ModelFileError
from nanocnn.layers import LAYER_TYPES, Layer, MaxPool2D, ReLU
from nanocnn.serialization import load_arrays, save_arrays

MODEL_FORMAT = "nanocnn-model"
MODEL_VERSION = 1
INFERENCE_CHUNK = 64  # samples per piece of a large inference batch


class Sequential:
    """``Sequential(*layers)``. ``training`` (False until ``train()``) is the default mode;
    ``metadata`` is a JSON-serialisable dict saved with the model (its task, class names...).
    """

    def __init__(self, *layers: Layer) -> None:
        for index, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential item {index} is not a layer: {layer!r}")
        self.layers = list(layers)
        self.training = False
        self.metadata: dict[str, Any] = {}

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index: int) -> Layer:
        return self.layers[index]

    def train(self) -> Sequential:
        """Switch the default mode to training (dropout on, batch statistics)."""
        self.training = True
        return self

    def eval(self) -> Sequential:
        """Switch the default mode to inference."""
        self.training = False
        return self

    def forward(self, x: np.ndarray, training: bool | None = None) -> np.ndarray:
        """Run every layer on ``x``; ``training=None`` uses the model's mode.

        In inference every sample is independent, so a large batch runs in pieces of
        ``INFERENCE_CHUNK`` samples: each layer's arrays then stay in the CPU caches and are
        recycled instead of freshly mapped (twice as fast at a batch of 1000).
        """
        training = self.training if training is None else training
        if not training and isinstance(x, np.ndarray) and x.ndim and len(x) > INFERENCE_CHUNK:
            pieces = range(0, len(x), INFERENCE_CHUNK)
            return np.concatenate([self._run(x[i : i + INFERENCE_CHUNK], False) for i in pieces])
        return self._run(x, training)

    def _run(self, x: np.ndarray, training: bool) -> np.ndarray:
        for layer in self._run_order():
            x = layer.forward(x, training=training)
        return x

    def _run_order(self) -> list[Layer]:
        """The layers in the order forward runs them; backward runs them in reverse.

        A ReLU directly before a MaxPool2D runs after it instead: the maximum of ReLUs is the
        ReLU of the maximum, and every gradient is the same (a window whose maximum is not
        positive passes none either way), but the ReLU sees a quarter of the numbers.
        """
        order = list(self.layers)
        for i in range(len(order) - 1):
            if type(order[i]) is ReLU and type(order[i + 1]) is MaxPool2D:
                order[i], order[i + 1] = order[i + 1], order[i]
        return order

    __call__ = forward

    def backward(self, dout: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """Back-propagate ``dout`` (the loss gradient of the output); fills every ``grads``
        and returns the gradient of the input.

        ``input_grad=False`` is for training, where nothing needs the input's gradient: the
        pass stops at the first layer with parameters, which skips its own input gradient
        (see the layer protocol); returns None.
        """
        layers = self._run_order()
        if not input_grad:
            first = next((i for i, layer in enumerate(layers) if layer.params), len(layers))
            layers = layers[first:]
        for index, layer in enumerate(reversed(layers)):
            if not input_grad and index == len(layers) - 1:  # the first layer with parameters
                layer.backward(dout, input_grad=False)
            else:
                dout = layer.backward(dout)
        return dout if input_grad else None

    def predict(self, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
        """Inference on ``x`` in batches; keeps no caches. Returns the stacked outputs.

        ``x`` follows the data rules of :func:`as_input` (floating point, finite) and holds
        at least one sample; its shape is checked by the first layer.
        """
        x = as_input(x, self.dtype)
        if x.ndim == 0 or len(x) == 0:
            raise ValueError(f"predict() needs a batch of shape (N, ...), N >= 1; got {x.shape}")
        outputs = [
            self.forward(x[start : start + batch_size], training=False)
            for start in range(0, len(x), batch_size)
        ]
        return np.concatenate(outputs)

    def parameters(self) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """(dotted name, parameter, gradient) for every trainable array, for the optimizers."""
        return [
            (f"{index}.{name}", param, layer.grads[name])
            for index, layer in enumerate(self.layers)
            for name, param in layer.params.items()
        ]

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the parameters (float32 unless converted with :meth:`astype`)."""
        for _, param, _ in self.parameters():
            return param.dtype
        return np.dtype(np.float32)

    def astype(self, dtype: np.typing.DTypeLike) -> Sequential:
        """Convert every layer's arrays to ``dtype``; build optimizers afterwards."""
        for layer in self.layers:
            layer.astype(dtype)
        return self

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer, by dotted name."""
        return {
            f"{index}.{name}": value.copy()
            for index, layer in enumerate(self.layers)
            for store in (layer.params, layer.buffers)
            for name, value in store.items()
        }

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy ``state`` into the model in place, after checking every name and shape.

        PyTorch's BatchNorm counts its training batches in ``num_batches_tracked`` (an integer
        scalar); nanocnn's has no use for the count, so that entry is accepted and ignored.
        """
        own = {
            f"{index}.{name}": value
            for index, layer in enumerate(self.layers)
            for store in (layer.params, layer.buffers)
            for name, value in store.items()
        }
        problems = [f"missing {name!r} {own[name].shape}" for name in own if name not in state]
        problems += [
            f"unexpected {name!r}"
            for name in state
            if name not in own and not _batch_count(name, state[name], own)
        ]
        problems += [
            f"{name!r} has shape {np.shape(state[name])}, the model needs {value.shape}"
            for name, value in own.items()
            if name in state and np.shape(state[name]) != value.shape
        ]
        if problems:
            raise ValueError("state dict does not fit the model: " + "; ".join(problems))
        for name, value in own.items():
            value[...] = state[name]

    def config(self) -> list[dict[str, Any]]:
        """The architecture: each layer's type and constructor arguments."""
        return [{"type": type(layer).__name__, **layer.config()} for layer in self.layers]

    @classmethod
    def from_config(cls, config: list[dict[str, Any]]) -> Sequential:
        """Rebuild a model (fresh weights) from :meth:`config`'s output."""
        layers = []
        for index, spec in enumerate(config):
            args = dict(spec)
            kind = args.pop("type", None)
            if kind not in LAYER_TYPES:
                raise ValueError(f"layer {index}: unknown layer type {kind!r}")
            layers.append(LAYER_TYPES[kind](**args))
        return cls(*layers)

    def summary(self, input_shape: tuple[int, ...]) -> str:
        """A table of layers, output shapes and parameter counts for one input of
        ``input_shape`` (without the batch axis, e.g. ``(1, 28, 28)``)."""
        x = np.zeros((1, *input_shape), dtype=self.dtype)
        rows = [("input", str(tuple(input_shape)), "")]
        for index, layer in enumerate(self.layers):
            x = layer.forward(x, training=False)
            count = sum(value.size for value in layer.params.values())
            rows.append((f"{index}: {layer!r}", str(x.shape[1:]), f"{count:,}" if count else ""))
        total = sum(param.size for _, param, _ in self.parameters())
        width = max(len(row[0]) for row in rows)
        lines = [f"{'layer':<{width}}  {'output shape':<16} {'params':>10}"]
        lines.append("-" * len(lines[0]))
        lines += [f"{name:<{width}}  {shape:<16} {count:>10}" for name, shape, count in rows]
        lines.append("-" * len(lines[0]))
        lines.append(f"total parameters: {total:,}")
        return "\n".join(lines)

    def save(self, path: str | os.PathLike) -> Path:
        """Write weights, buffers, architecture and ``metadata`` to ``path`` atomically.
        The file alone rebuilds the model with :func:`nanocnn.load`."""
        header = {
            "format": MODEL_FORMAT,
            "version": MODEL_VERSION,
            "layers": self.config(),
            "metadata": self.metadata,
        }
        return save_arrays(path, self.state_dict(), header)

    def __repr__(self) -> str:
        body = "".join(f"\n  ({index}): {layer!r}" for index, layer in enumerate(self.layers))
        return f"Sequential({body}\n)"


def load(path: str | os.PathLike) -> Sequential:
    """Rebuild the model saved at ``path`` by :meth:`Sequential.save`.

    The model's ``metadata`` attribute holds the metadata saved with it. Raises
    ``ModelFileError`` naming the file and the problem for anything that is not such a file.
    """
    arrays, header = load_arrays(path)
    if header.get("format") != MODEL_FORMAT:
        raise ModelFileError(f"{path}: not a nanocnn model file (format {header.get('format')!r})")
    if header.get("version") != MODEL_VERSION:
        raise ModelFileError(f"{path}: unsupported model file version {header.get('version')!r}")
    layers = header.get("layers")
    if not isinstance(layers, list) or not all(isinstance(spec, dict) for spec in layers):
        raise ModelFileError(f"{path}: the architecture is not a list of layers")
    _check_sizes(path, layers, arrays)
    dtype = _weights_dtype(path, arrays)
    try:
        model = Sequential.from_config(layers)
        model.astype(dtype)
        model.load_state_dict(arrays)
    except (TypeError, ValueError) as error:
        raise ModelFileError(f"{path}: {error}") from error
    metadata = header.get("metadata")
    model.metadata = metadata if isinstance(metadata, dict) else {}
    return model


def _batch_count(name: str, value: np.ndarray, own: dict[str, np.ndarray]) -> bool:
    """Whether ``name`` is PyTorch's integer ``<i>.num_batches_tracked`` of a BatchNorm."""
    layer, _, key = name.rpartition(".")
    return (
        key == "num_batches_tracked"
        and f"{layer}.running_mean" in own
        and np.ndim(value) == 0
        and np.issubdtype(np.asarray(value).dtype, np.integer)
    )


def as_input(x: np.ndarray, dtype: np.typing.DTypeLike, name: str = "x") -> np.ndarray:
    """``x`` checked and converted for a model of ``dtype``: the data rule of ``predict`` and
    ``Trainer.fit``.

    Floating-point values are converted to ``dtype`` (an explicit copy when they differ, e.g.
    float64 to float32). Integer values, such as uint8 images, are refused: converted as they
    are they would give silently wrong answers, so scale them first
    (``x.astype(np.float32) / 255``). NaN or infinite values (also those that overflow
    ``dtype``) are refused.
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(
            f"{name} has dtype {x.dtype}; pass floating-point values, e.g. "
            f"{name}.astype(np.float32) / 255 for 8-bit images"
        )
    with np.errstate(over="ignore"):  # values too large for dtype become inf, refused below
        x = x.astype(dtype, copy=False)
    # min and max pass any NaN on, and an infinity is one of them: no array of flags needed
    if x.size and not (np.isfinite(x.min()) and np.isfinite(x.max())):
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


SIZE_ARGS = ("in_channels", "out_channels", "in_features", "out_features", "num_features")
WINDOW_ARGS = ("kernel_size", "stride", "padding")
LOADER_ARGS = ("rng", "dtype")  # chosen by the loader, never by a file
# An architecture may declare at most this many times the weights its file holds: enough for
# a file that lacks a tensor to reach load_state_dict's precise message, small enough that
# the memory a file can claim stays proportional to its size.
SIZE_MARGIN = 2


def _check_sizes(path: str | os.PathLike, layers: list[dict], arrays: dict) -> None:
    """Refuse, before building anything, an architecture whose layers together declare far
    more weights than the file's arrays hold (``SIZE_MARGIN``), whose sizes are not plain
    integers, or whose padding is wider than its kernel: a small hostile file must not make
    the loader, or a later ``predict``, allocate gigabytes."""
    budget = SIZE_MARGIN * sum(array.size for array in arrays.values())
    declared = 0
    for index, spec in enumerate(layers):
        where = f"{path}: layer {index} ({spec.get('type')})"
        if forbidden := [key for key in LOADER_ARGS if key in spec]:
            raise ModelFileError(f"{where} sets {forbidden}, which a model file may not")
        sizes = {key: [spec[key]] for key in SIZE_ARGS if key in spec}
        pairs = {
            key: value if isinstance(value, list) else [value, value]
            for key in WINDOW_ARGS
            if key in spec and (value := spec[key]) not in ("same", "valid")
        }
        bad = [
            key
            for key, numbers in {**sizes, **pairs}.items()
            if not all(type(number) is int and number >= 0 for number in numbers)
        ]
        if bad:
            raise ModelFileError(f"{where}: {', '.join(bad)} must be non-negative integers")
        kernel = pairs.get("kernel_size", [1, 1])
        if any(pad > size for pad, size in zip(pairs.get("padding", []), kernel, strict=False)):
            raise ModelFileError(f"{where}: padding {spec['padding']} is wider than the kernel")
        if sizes:
            declared += math.prod(number for [number] in sizes.values()) * math.prod(kernel)
        if declared > budget:
            raise ModelFileError(f"{where} is larger than the weights the file holds")


def _weights_dtype(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> np.dtype:
    """The one floating-point dtype of a model file's arrays (float32 if it has none)."""
    dtypes = {array.dtype.newbyteorder("=") for array in arrays.values()}
    if len(dtypes) > 1 or any(dtype.kind != "f" for dtype in dtypes):
        found = ", ".join(sorted(str(dtype) for dtype in dtypes))
        raise ModelFileError(f"{path}: weights must be of one floating-point dtype, not {found}")
    return dtypes.pop() if dtypes else np.dtype(np.float32)
