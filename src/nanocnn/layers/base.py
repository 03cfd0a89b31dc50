"""The protocol every layer follows.

A layer owns three dictionaries of arrays:

- ``params``: the trainable parameters, named as in PyTorch (``weight``, ``bias``);
- ``grads``: the gradient of the loss for each parameter, same keys and shapes. ``backward``
  overwrites these arrays *in place*, so an optimizer can hold on to them;
- ``buffers``: state that is saved with the model but not trained (BatchNorm's running
  statistics).

``forward(x, training=False)`` computes the output. When ``training`` is true the layer keeps
what its backward needs; in inference mode it keeps nothing. ``backward(dout)`` takes the
gradient of the loss with respect to the output and returns the gradient with respect to the
input. Neither method writes into the arrays it is given. A layer with parameters also
accepts ``backward(dout, input_grad=False)``: it fills ``grads`` but skips the input gradient
and returns None, for the first layer of a network, whose input gradient nothing uses.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np


class Layer:
    """Base class of every layer: the protocol, a readable ``repr`` and dtype conversion."""

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.buffers: dict[str, np.ndarray] = {}

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this layer (JSON-serialisable)."""
        return {}

    def astype(self, dtype: np.typing.DTypeLike) -> Layer:
        """Convert parameters, gradients and buffers to ``dtype`` (e.g. float64 for gradcheck).

        The arrays are replaced, so build optimizers after converting.
        """
        for store in (self.params, self.grads, self.buffers):
            for name, value in store.items():
                store[name] = value.astype(dtype)
        return self

    @property
    def dtype(self) -> np.dtype | None:
        """The dtype of the parameters, or None for a layer without any."""
        for value in self.params.values():
            return value.dtype
        return None

    def __repr__(self) -> str:
        """The constructor call, with only the arguments that differ from their defaults."""
        defaults = {
            name: parameter.default
            for name, parameter in inspect.signature(type(self)).parameters.items()
        }
        args = []
        for key, value in self.config().items():
            if isinstance(value, list) and len(set(value)) == 1:
                value = value[0]  # [5, 5] -> 5
            if value != defaults.get(key, inspect.Parameter.empty):
                args.append(f"{key}={value!r}")
        return f"{type(self).__name__}({', '.join(args)})"

    def _missing_cache(self) -> RuntimeError:
        return RuntimeError(
            f"{type(self).__name__}.backward() called without a forward(x, training=True) first"
        )

    def _check_input(self, x: np.ndarray, ndim: int, channels: int | None = None) -> None:
        """Raise a ValueError naming this layer if ``x`` has the wrong rank, dtype or channels."""
        name = type(self).__name__
        if not isinstance(x, np.ndarray):
            raise ValueError(f"{name} expected a numpy array, got {type(x).__name__}")
        if x.ndim != ndim:
            layout = {2: "(N, features)", 4: "(N, C, H, W)"}.get(ndim, f"{ndim} dimensions")
            raise ValueError(f"{name} expected input of shape {layout}, got shape {x.shape}")
        if channels is not None and x.shape[1] != channels:
            raise ValueError(
                f"{name} expected {channels} input channels/features, got {x.shape[1]} "
                f"(input shape {x.shape})"
            )
        expected = self.dtype
        if expected is not None and x.dtype != expected:
            raise ValueError(
                f"{name} expected {expected} input, got {x.dtype}; "
                f"convert it with x.astype(np.{expected})"
            )
        if expected is None and not np.issubdtype(x.dtype, np.floating):
            raise ValueError(f"{name} expected floating-point input, got {x.dtype}")


def as_pair(value: int | tuple[int, int] | list[int], name: str) -> tuple[int, int]:
    """``3 -> (3, 3)``; ``(3, 5) -> (3, 5)``. Raises ValueError for anything else."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        pair = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        pair = (int(value[0]), int(value[1]))
    else:
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return pair


def as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    """A ``numpy.random.Generator`` from a Generator, a seed, or None (fresh entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)
