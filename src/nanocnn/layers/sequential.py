"""``Sequential``: a model is a list of layers, run forward in order and backward in reverse.

Parameters get dotted names ``"<layer index>.<param name>"`` (``"0.weight"``), the same names
PyTorch's ``nn.Sequential`` gives, so state dicts move between the two. A ``Sequential`` is
itself a layer (a :class:`~nanocnn.layers.container.Container`): it nests inside another
``Sequential`` or a ``Residual``, and the names go down the nesting (``"3.body.0.weight"``).
A model file holds the weights *and* the architecture (each layer's type and constructor
arguments), so the file alone rebuilds the model: ``nanocnn.save(model, path)`` and
``nanocnn.load(path)`` (:mod:`nanocnn.io`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, overload

import numpy as np

from nanocnn.errors import InputShapeError
from nanocnn.layers.activations import ReLU
from nanocnn.layers.base import Layer, as_int
from nanocnn.layers.container import (
    Container,
    SummaryRow,
    backward_layers,
    container_row,
    forward_layer,
    summary_rows,
    summary_table,
)
from nanocnn.layers.fuse import fold_pairs
from nanocnn.layers.inputs import as_input, input_gradient
from nanocnn.layers.pool import MaxPool2D
from nanocnn.layers.registry import build_layer, layer_spec, register_layer
from nanocnn.layers.state import IncompatibleKeys, detached, load_state
from nanocnn.losses import Loss

INFERENCE_CHUNK = 64  # samples per piece of a large inference batch


@register_layer  # a Sequential nests inside another container
class Sequential(Container):
    """``Sequential(*layers)``. ``training`` (False until ``train()``) is the default mode;
    ``metadata`` is a JSON-serialisable dict saved with the model (its task, class names,
    ``input_shape``...).

    ``forward`` and ``backward`` run the layers exactly in the order written, so a loop of
    your own over the layers agrees with them. ``fast_forward``/``fast_backward`` give the
    same outputs and gradients faster (the trainer's step and ``predict`` use them).
    """

    def __init__(self, *layers: Layer) -> None:
        for index, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential item {index} is not a layer: {layer!r}")
        super().__init__()
        self.layers = list(layers)
        self.training = False
        self.metadata: dict[str, Any] = {}

    def children(self) -> list[tuple[str, Layer]]:
        return [(str(index), layer) for index, layer in enumerate(self.layers)]

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    @overload
    def __getitem__(self, index: int) -> Layer: ...
    @overload
    def __getitem__(self, index: slice) -> Sequential: ...
    def __getitem__(self, index: int | slice) -> Layer | Sequential:
        """A layer, or for a slice a ``Sequential`` of those layers (shared, not copied)."""
        if isinstance(index, slice):
            return Sequential(*self.layers[index])
        return self.layers[index]

    def train(self) -> Sequential:
        """Switch the default mode to training (dropout on, batch statistics)."""
        self.training = True
        return self

    def eval(self) -> Sequential:
        """Switch the default mode to inference."""
        self.training = False
        return self

    def forward(
        self, x: np.ndarray, training: bool | None = None, keep: bool = False
    ) -> np.ndarray:
        """Run the layers in order on ``x``; ``training=None`` uses the model's mode.

        ``keep=True`` keeps, in inference mode too, what ``backward`` needs (see the layer
        protocol in :mod:`nanocnn.layers.base`). In inference without ``keep`` every sample is
        independent, so a large batch runs in pieces of ``INFERENCE_CHUNK`` samples: each
        layer's arrays then stay in the CPU caches (twice as fast at a batch of 1000).
        """
        return self._forward(self.layers, x, training, keep)

    __call__ = forward

    def backward(
        self, dout: np.ndarray, input_grad: bool = True, accumulate: bool = False
    ) -> np.ndarray | None:
        """Back-propagate ``dout`` (the loss gradient of the output of the last ``forward``
        with ``training`` or ``keep``) through the layers in reverse; fills every ``grads``
        and returns the gradient of the input.

        ``input_grad=False`` is for training, where nothing needs the input's gradient: the
        pass stops at the first layer with parameters, which skips its own input gradient
        when its ``backward`` takes ``input_grad``; returns None. ``accumulate=True`` adds
        this pass's gradients to those already in ``grads`` (PyTorch's way; clear them with
        ``optimizer.zero_grad()``), for gradient accumulation over several batches; by
        default they are overwritten.
        """
        before = [grad.copy() for _, _, grad in self.parameters()] if accumulate else []
        dx = backward_layers(self.layers, dout, input_grad, fast=False)
        for (_, _, grad), earlier in zip(self.parameters(), before, strict=False):
            grad += earlier
        return dx

    def fast_forward(self, x: np.ndarray, training: bool | None = None) -> np.ndarray:
        """``forward`` with every ReLU that comes directly before a MaxPool2D run after it:
        the same output, as the maximum of ReLUs is the ReLU of the maximum, but the ReLU sees
        a quarter of the numbers (LeNet's training step is 10-13% faster); and every ReLU that
        follows a layer with a ``fresh_output`` in place. Nested containers take their own
        fast paths.

        Follow it with ``fast_backward``, never with ``backward``: the two orders keep
        different arrays.
        """
        return self._forward(self._fast_order(), x, training, keep=False, fast=True)

    def fast_backward(self, dout: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """``backward`` after a ``fast_forward``: the same gradients (a window whose maximum
        is not positive passes none either way)."""
        return backward_layers(self._fast_order(), dout, input_grad, fast=True)

    def _fast_order(self) -> list[Layer]:
        order = list(self.layers)
        for i in range(len(order) - 1):
            if type(order[i]) is ReLU and type(order[i + 1]) is MaxPool2D:
                order[i], order[i + 1] = order[i + 1], order[i]
        return order

    def _forward(
        self,
        layers: list[Layer],
        x: np.ndarray,
        training: bool | None,
        keep: bool,
        fast: bool = False,
    ) -> np.ndarray:
        training = self.training if training is None else training
        keep = keep and not training  # a training pass keeps everything anyway
        chunked = isinstance(x, np.ndarray) and x.ndim and len(x) > INFERENCE_CHUNK
        if chunked and not (training or keep):
            pieces = range(0, len(x), INFERENCE_CHUNK)
            chunks = [x[i : i + INFERENCE_CHUNK] for i in pieces]
            return np.concatenate([self._run(layers, c, False, False, fast) for c in chunks])
        return self._run(layers, x, training, keep, fast)

    def _run(
        self, layers: list[Layer], x: np.ndarray, training: bool, keep: bool, fast: bool
    ) -> np.ndarray:
        """Each layer in ``layers`` on the output of the one before. A layer's
        InputShapeError leaves with the layer's index (as written, whatever the running
        order), this model's input shape and the input shape of its metadata."""
        shape, fresh = getattr(x, "shape", None), False
        for layer in layers:
            try:
                if fast and fresh and type(layer) is ReLU:  # on the last layer's new array
                    x = layer.forward(x, training, keep, in_place=True)
                else:
                    x = forward_layer(layer, x, training, keep, fast)
                fresh = layer.fresh_output
            except InputShapeError as error:
                index = next(i for i, own in enumerate(self.layers) if own is layer)
                expected = self.metadata.get("input_shape")
                expected = list(expected) if isinstance(expected, (list, tuple)) else None
                raise error.within(str(index), shape, expected) from None
        return x

    def predict(self, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
        """Inference on ``x`` in batches; keeps no caches. Returns the stacked outputs.

        ``x`` follows the data rules of :func:`as_input` (floating point, finite) and holds
        at least one sample; its shape is checked against ``metadata["input_shape"]`` when
        the model has one, otherwise by the layers.
        """
        batch_size = as_int(batch_size, "batch_size", minimum=1)
        x = as_input(x, self.dtype)
        if x.ndim == 0 or len(x) == 0:
            raise ValueError(f"predict() needs a batch of shape (N, ...), N >= 1; got {x.shape}")
        expected = self.metadata.get("input_shape")
        if isinstance(expected, (list, tuple)) and list(x.shape[1:]) != list(expected):
            raise ValueError(
                f"the model expects input of shape (N, {', '.join(map(str, expected))}) "
                f"(its metadata's input_shape), got {x.shape}"
            )
        model = self.fused()  # the same outputs, up to float rounding, with fewer passes
        outputs = [
            model.fast_forward(x[start : start + batch_size], training=False)
            for start in range(0, len(x), batch_size)
        ]
        return np.concatenate(outputs)

    def input_gradient(
        self, x: np.ndarray, target: int | np.ndarray | None = None, loss: Loss | None = None
    ) -> np.ndarray:
        """The gradient with respect to ``x`` (N, ...) of one number per sample, computed in
        inference mode (running statistics, no dropout) without changing the model: its
        parameters, buffers, gradients, caches and random generators stay as they were.

        Without ``loss``, the number is the output ``target`` selects, ``out[n, target[n]]``
        (a class's logit): ``target`` is an int for every sample, (N,) ints, or None for each
        sample's largest output (the predicted class; the output of a one-output model).
        Samples do not mix in inference, so row n of the result is sample n's own gradient.
        With a ``loss`` (e.g. ``SoftmaxCrossEntropy()``), it is the gradient of
        ``loss.forward(model(x), target)``, a mean over the batch. Returns x's shape, in the
        model's dtype.
        """
        return input_gradient(self, x, target, loss)

    def fused(self) -> Sequential:
        """A copy for inference (``predict``, export) with every BatchNorm2D that directly
        follows a Conv2D folded into it (:mod:`nanocnn.layers.fuse`), in nested containers
        too; this model is unchanged. The copy's parameter names differ: do not train it."""
        copy = detached(self)  # shares the arrays; the folded layers get new ones
        for layer in [copy, *copy.containers()]:
            if isinstance(layer, Sequential):
                layer.layers = fold_pairs(layer.layers)
        return copy

    def parameters(self) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """(dotted name, parameter, gradient) for every trainable array, for the optimizers."""
        grads = self.grads
        return [(name, param, grads[name]) for name, param in self.params.items()]

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the parameters (float32 unless converted with :meth:`astype`)."""
        for _, param, _ in self.parameters():
            return param.dtype
        return np.dtype(np.float32)

    def astype(self, dtype: np.typing.DTypeLike) -> Sequential:
        """Convert every layer's arrays to ``dtype``; build optimizers afterwards."""
        super().astype(dtype)
        return self

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer, by dotted name (PyTorch's order)."""
        return {name: value.copy() for name, value in self.named_arrays()}

    def load_state_dict(
        self, state: dict[str, np.ndarray], strict: bool = True
    ) -> IncompatibleKeys:
        """Copy ``state`` into the model in place, after checking every name and shape; with
        ``strict=False`` what fits by name, returning the missing and unexpected names (see
        :func:`nanocnn.layers.state.load_state`)."""
        return load_state(dict(self.named_arrays()), state, strict)

    def config(self) -> list[dict[str, Any]]:  # type: ignore[override]
        """The architecture: each layer's type and constructor arguments (see
        :func:`nanocnn.layers.layer_spec`: every layer registered, every value JSON). Nested
        inside another container, a Sequential's spec is ``{"type": "Sequential", "layers":
        config()}``."""
        return [layer_spec(layer) for layer in self.layers]

    @classmethod
    def from_config(cls, config: list[dict[str, Any]]) -> Sequential:
        """Rebuild a model (fresh weights) from :meth:`config`'s output."""
        layers = []
        for index, spec in enumerate(config):
            try:
                layers.append(build_layer(spec))
            except (TypeError, ValueError) as error:
                kind = TypeError if isinstance(error, TypeError) else ValueError
                raise kind(f"layer {index} ({spec.get('type')}): {error}") from error
        return cls(*layers)

    @classmethod
    def child_specs(cls, args: dict[str, Any]) -> list[tuple[str, Any]]:
        layers = args.get("layers")
        if not isinstance(layers, list) or set(args) != {"layers"}:
            raise ValueError(f"a nested Sequential's spec holds only its list of layers: {args}")
        return [(str(index), spec) for index, spec in enumerate(layers)]

    @classmethod
    def from_spec(cls, args: dict[str, Any]) -> Sequential:
        return cls.from_config([spec for _, spec in cls.child_specs(args)])

    def summary(self, input_shape: tuple[int, ...]) -> str:
        """A table of layers, output shapes and parameter counts for one input of
        ``input_shape`` (without the batch axis, e.g. ``(1, 28, 28)``); the layers of a
        nested container are indented under it, by dotted name. Runs on a copy, so a training
        pass's caches survive it."""
        x = np.zeros((1, *input_shape), dtype=self.dtype)
        rows = [("input", str(tuple(input_shape)), "")]
        model = detached(self)  # keeps this model's caches
        for name, layer in model.children():
            layer_rows, x = summary_rows(layer, x, name, depth=0)
            rows += layer_rows
        return summary_table(rows, sum(param.size for _, param, _ in self.parameters()))

    def summary_rows(
        self, x: np.ndarray, name: str, depth: int
    ) -> tuple[list[SummaryRow], np.ndarray]:
        rows = []
        for child_name, layer in self.children():
            layer_rows, x = summary_rows(layer, x, f"{name}.{child_name}", depth + 1)
            rows += layer_rows
        return [container_row(self, x, name, depth), *rows], x
