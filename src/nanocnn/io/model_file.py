"""Model files and training checkpoints: what nanocnn keeps on disk, and how it is read back.

Both are named arrays plus one JSON header, written atomically by :func:`save_arrays` in the
format the path's suffix names (``.npz``, ``.safetensors``), read back never running code.

- A **model file** holds the weights and buffers under their dotted names (``"0.weight"``),
  and a header ``{"format": "nanocnn-model", "version": 1, "layers": [...], "metadata": {...}}``:
  the architecture (each layer's type and constructor arguments) and the model's metadata
  (its task, input shape, class names, normalisation...). The file alone rebuilds the model:
  :func:`save` and :func:`load`.
- **Weights alone** (a state dict) come from any safetensors file, such as one written by
  ``safetensors.torch.save_file(torch_model.state_dict(), path)``, from a
  ``torch.save(torch_model.state_dict(), path)`` file (.pt, .pth, .bin; never unpickled), or
  from a nanocnn file: :func:`load_weights`. The names are PyTorch's ``nn.Sequential`` ones,
  which nanocnn's layers share; BatchNorm's ``num_batches_tracked`` is ignored. The other way
  needs nothing more: a model saved as ``model.safetensors`` is read by
  ``safetensors.torch.load_file``.
- A **training checkpoint** holds the whole training state (model, optimizer, callbacks,
  random generators, history) with ``"format": "nanocnn-checkpoint"``
  (:func:`save_checkpoint`, :func:`read_checkpoint`; the trainer fills and reads it).

A file's architecture is checked before anything is built: a small hostile file must not make
the loader, or a later ``predict``, allocate gigabytes. What each layer type may declare is
the layer's own rule (:meth:`nanocnn.layers.Layer.spec_cost`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from nanocnn.errors import ModelFileError
from nanocnn.io.arrays import load_arrays, load_state_dict_file, save_arrays
from nanocnn.layers import LAYER_TYPES, Container, Sequential
from nanocnn.layers.base import MAX_PADDING

MODEL_FORMAT = "nanocnn-model"
CHECKPOINT_FORMAT = "nanocnn-checkpoint"
VERSION = 1

LOADER_ARGS = ("rng", "dtype")  # chosen by the loader, never by a file
# An architecture may declare at most this many times the weights its file holds: enough for
# a file that lacks a tensor to reach load_state_dict's precise message, small enough that
# the memory a file can claim stays proportional to its size.
SIZE_MARGIN = 2
MAX_DEPTH = 16  # containers inside containers (a ResNet needs 3: model, block, shortcut)
MAX_LAYERS = 10_000  # layers in all, containers and nested ones included


def save(model: Sequential, path: str | os.PathLike) -> Path:
    """Write ``model``'s weights, buffers, architecture and metadata to ``path`` atomically."""
    header = {
        "format": MODEL_FORMAT,
        "version": VERSION,
        "layers": model.config(),
        "metadata": model.metadata,
    }
    return save_arrays(path, model.state_dict(), header)


def load(path: str | os.PathLike) -> Sequential:
    """Rebuild the model saved at ``path`` by :func:`save`.

    The model's ``metadata`` attribute holds the metadata saved with it. Raises
    ``ModelFileError`` naming the file and the problem for anything that is not such a file.
    """
    arrays, header = read_file(path, MODEL_FORMAT)
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


def load_weights(model: Sequential, path: str | os.PathLike) -> Sequential:
    """Copy the weights of the file at ``path`` into ``model`` in place; returns the model.

    ``path`` is any safetensors file of a state dict (from ``safetensors.torch.save_file``,
    ``safetensors.numpy.save_file`` or nanocnn), a ``torch.save(state_dict, path)`` file
    (.pt, .pth or .bin), or a nanocnn ``.npz`` file. Its tensors are
    converted to the model's dtype. Raises ``ModelFileError`` naming the file when it cannot
    be read or its names and shapes do not fit the model.
    """
    arrays = load_state_dict_file(path)
    try:
        model.load_state_dict(arrays)
    except ValueError as error:
        raise ModelFileError(f"{path}: {error}") from error
    return model


def save_checkpoint(path: str | os.PathLike, arrays: dict[str, np.ndarray], state: dict) -> Path:
    """Write a training state (its ``arrays`` and JSON-able ``state``) to ``path`` atomically."""
    header = {"format": CHECKPOINT_FORMAT, "version": VERSION, **state}
    return save_arrays(path, arrays, header)


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(arrays, header) of a training checkpoint written by :func:`save_checkpoint`."""
    return read_file(path, CHECKPOINT_FORMAT)


def read_file(
    path: str | os.PathLike, expected: str
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(arrays, header) of a nanocnn file whose format is ``expected``, else ModelFileError."""
    arrays, header = load_arrays(path)
    found = header.get("format")
    if found != expected:
        kind = "model file" if expected == MODEL_FORMAT else "training checkpoint"
        raise ModelFileError(f"{path}: not a nanocnn {kind} (format {found!r})")
    if header.get("version") != VERSION:
        raise ModelFileError(f"{path}: unsupported file version {header.get('version')!r}")
    return arrays, header


def _check_sizes(path: str | os.PathLike, layers: list[dict], arrays: dict) -> None:
    """Refuse, before building anything, an architecture whose layers together declare far
    more weights than the file's arrays hold (``SIZE_MARGIN``), pad an input by more than
    ``MAX_PADDING`` pixels a side in all (each layer may pad up to that: stacked, they would
    grow a small image to gigabytes), or whose sizes are not plain integers (each layer type
    says what its spec declares: ``Layer.spec_cost``). Every other rule (a pooling's padding
    at most half its kernel...) is the layer constructors' own, the same for a model built in
    code and one loaded from a file."""
    budget = SIZE_MARGIN * sum(array.size for array in arrays.values())
    declared = padded = 0
    for name, spec in _nested_specs(path, layers):
        where = f"{path}: layer {name} ({spec.get('type')})"
        if forbidden := [key for key in LOADER_ARGS if key in spec]:
            raise ModelFileError(f"{where} sets {forbidden}, which a model file may not")
        kind = LAYER_TYPES.get(spec["type"]) if isinstance(spec.get("type"), str) else None
        if kind is None:
            continue  # refused by name when the model is built
        try:
            weights, padding = kind.spec_cost(spec)
        except ValueError as error:
            raise ModelFileError(f"{where}: {error}") from error
        padded += padding
        if padded > MAX_PADDING:
            raise ModelFileError(f"{where}: the layers pad more than {MAX_PADDING} pixels in all")
        declared += weights
        if declared > budget:
            raise ModelFileError(f"{where} is larger than the weights the file holds")


def _nested_specs(path: str | os.PathLike, layers: list) -> Iterator[tuple[str, dict]]:
    """Every layer spec of an architecture with its dotted name, a container's children after
    it (:meth:`Container.child_specs`), walked without recursion. Refuses, before anything is
    built, a spec that is not a dict, nesting deeper than ``MAX_DEPTH`` and more than
    ``MAX_LAYERS`` layers in all: a small hostile file cannot make the loader recurse or
    build without end."""
    pending = [(str(index), spec, 0) for index, spec in reversed(list(enumerate(layers)))]
    count = 0
    while pending:
        name, spec, depth = pending.pop()
        count += 1
        if count > MAX_LAYERS:
            raise ModelFileError(f"{path}: more than {MAX_LAYERS} layers")
        if not isinstance(spec, dict):
            raise ModelFileError(f"{path}: layer {name} is not a layer spec: {str(spec)[:80]}")
        yield name, spec
        kind = LAYER_TYPES.get(spec["type"]) if isinstance(spec.get("type"), str) else None
        if not (kind is not None and issubclass(kind, Container)):
            continue
        if depth + 1 >= MAX_DEPTH:
            raise ModelFileError(f"{path}: layer {name} nests containers over {MAX_DEPTH} deep")
        try:
            children = kind.child_specs({k: v for k, v in spec.items() if k != "type"})
        except ValueError as error:
            raise ModelFileError(f"{path}: layer {name} ({spec['type']}): {error}") from error
        pending += [(f"{name}.{child}", child_spec, depth + 1) for child, child_spec in children][
            ::-1
        ]


def _weights_dtype(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> np.dtype:
    """The one floating-point dtype of a model file's arrays (float32 if it has none)."""
    dtypes = {array.dtype.newbyteorder("=") for array in arrays.values()}
    if len(dtypes) > 1 or any(dtype.kind != "f" for dtype in dtypes):
        found = ", ".join(sorted(str(dtype) for dtype in dtypes))
        raise ModelFileError(f"{path}: weights must be of one floating-point dtype, not {found}")
    return dtypes.pop() if dtypes else np.dtype(np.float32)
