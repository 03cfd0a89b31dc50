"""The protocol every layer follows.

A layer owns three dictionaries of arrays:

- ``params``: the trainable parameters, named as in PyTorch (``weight``, ``bias``);
- ``grads``: the gradient of the loss for each parameter, same keys and shapes. ``backward``
  overwrites these arrays *in place*, so an optimizer can hold on to them;
- ``buffers``: state that is saved with the model but not trained (BatchNorm's running
  statistics).

``forward(x, training=False, keep=False)`` computes the output. ``training`` chooses the
behaviour (dropout on, BatchNorm's batch statistics, running statistics updated); ``keep``
asks the layer to keep what its backward needs. A training pass always keeps it; an inference
pass keeps nothing unless ``keep=True``, which gives gradients *in inference mode* (saliency
maps, adversarial examples) without changing any state: no running statistic moves, no random
number is drawn.

``backward(dout, input_grad=True)`` takes the gradient of the loss with respect to the output
of the last kept ``forward``, fills ``grads`` and returns the gradient with respect to the
input; ``input_grad=False`` may skip that (returns None), for the first layers of a network,
whose input gradient nothing uses. Neither method writes into the arrays it is given.

A layer of your own only needs ``forward(x, training=False)`` and ``backward(dout)``: a
container calls it with ``keep`` or ``input_grad`` only when its method declares them
(:func:`accepts`). See docs/custom_layers.md.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
from typing import Any, ClassVar

import numpy as np

from nanocnn.errors import InputShapeError


class Layer:
    """Base class of every layer: the protocol, a readable ``repr`` and dtype conversion."""

    # the attributes that hold what one pass leaves for the next (the cache for backward,
    # scratch buffers) or tie the layer to this run: the copies that ``detached`` makes (for
    # ``input_gradient``, ``summary``, ``fused``, the snapshots) start without them
    transient: tuple[str, ...] = ("_cache",)
    # What a model file's spec of this layer declares, checked before anything is built (a
    # small hostile file must not make the loader allocate gigabytes): the arguments whose
    # product, times the kernel's area, counts its weights, and whether it has a window
    # (kernel_size, stride, padding). See :meth:`spec_cost`.
    size_args: ClassVar[tuple[str, ...]] = ()
    windowed: ClassVar[bool] = False
    # Whether ``forward`` returns a new array that the layer keeps no reference to: the fast
    # path (``Sequential.fast_forward``) then runs a ReLU that follows it in place.
    fresh_output: ClassVar[bool] = False

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.buffers: dict[str, np.ndarray] = {}

    def forward(self, x: np.ndarray, training: bool = False, keep: bool = False) -> np.ndarray:
        """The output for input ``x``; keeps what backward needs if ``training or keep``."""
        raise NotImplementedError

    def backward(self, dout: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """Fill ``grads`` from ``dout`` (the loss gradient of the last kept output) and return
        the gradient of the input, or None when ``input_grad`` is false."""
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

    @classmethod
    def spec_cost(cls, spec: dict[str, Any]) -> tuple[int, int]:
        """(weights, padding of a side) that ``spec``, this layer's arguments in a model file,
        declares: read without building anything. ValueError naming the size and window
        arguments that are not non-negative integers; every other rule is the constructor's."""
        window = ("kernel_size", "stride", "padding") if cls.windowed else ()
        sizes = {key: [spec[key]] for key in cls.size_args if key in spec}
        pairs = {
            key: value if isinstance(value, list) else [value, value]
            for key in window
            if key in spec and (value := spec[key]) not in ("same", "valid")
        }
        bad = [
            key
            for key, numbers in {**sizes, **pairs}.items()
            if not all(type(number) is int and number >= 0 for number in numbers)
        ]
        if bad:
            raise ValueError(f"{', '.join(bad)} must be non-negative integers")
        kernel = math.prod(pairs.get("kernel_size", [1, 1]))
        weights = math.prod(number for [number] in sizes.values()) * kernel if sizes else 0
        return weights, max(pairs.get("padding") or [0])

    def _missing_cache(self) -> RuntimeError:
        return RuntimeError(
            f"{type(self).__name__}.backward() called without a forward(x, training=True) "
            "or forward(x, keep=True) first"
        )

    def _check_input(self, x: np.ndarray, ndim: int, channels: int | None = None) -> None:
        """Raise a ValueError naming this layer if ``x`` has the wrong rank, dtype or channels
        (an ``InputShapeError`` for the rank and the channels)."""
        name = type(self).__name__
        if not isinstance(x, np.ndarray):
            raise ValueError(f"{name} expected a numpy array, got {type(x).__name__}")
        if x.ndim != ndim:
            layout = {2: "(N, features)", 4: "(N, C, H, W)"}.get(ndim, f"{ndim} dimensions")
            raise InputShapeError(f"{name} expected input of shape {layout}, got shape {x.shape}")
        if channels is not None and x.shape[1] != channels:
            raise InputShapeError(
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


# PyTorch sets no bound; nanocnn refuses a padding of more than this, a side, in a layer and in
# all the layers of a model file together, so that a file cannot make ``predict`` pad a small
# image into gigabytes (1,024 pixels a side: no network pads more).
MAX_PADDING = 1024


def as_int(value: Any, name: str, minimum: int = 0) -> int:
    """``value`` as a plain Python int (NumPy integers too), at least ``minimum``.

    Raises ValueError naming ``name`` for a bool, a float, or a number below ``minimum``.
    """
    if not isinstance(value, numbers.Integral) or isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def as_pair(value: Any, name: str, minimum: int = 0) -> tuple[int, int]:
    """``3 -> (3, 3)``; ``(3, 5)`` or ``[3, 5]`` -> ``(3, 5)``, as plain ints >= ``minimum``.

    Raises ValueError naming ``name`` for anything else.
    """
    if isinstance(value, (tuple, list, np.ndarray)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
        return as_int(value[0], name, minimum), as_int(value[1], name, minimum)
    return as_int(value, name, minimum), as_int(value, name, minimum)


def accepts(method: Any, argument: str) -> bool:
    """Whether a layer's bound ``forward`` or ``backward`` takes the keyword ``argument``
    (``keep``, ``input_grad``): a layer written to the short protocol takes neither."""
    return _accepts(getattr(method, "__func__", method), argument)


@functools.cache
def _accepts(function: Any, argument: str) -> bool:
    parameters = inspect.signature(function).parameters.values()
    return any(p.name == argument or p.kind is p.VAR_KEYWORD for p in parameters)


def as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    """A ``numpy.random.Generator`` from a Generator, a seed, or None (fresh entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)
