"""Layers made of layers: what the containers (``Sequential``, ``Residual``) share.

A container is itself a layer, so containers nest to any depth: a ``Residual`` inside a
``Sequential``, a ``Sequential`` as a residual block's shortcut. Its ``params``, ``grads`` and
``buffers`` are its children's, under dotted names built as PyTorch builds them from its
modules' attribute names: the first weight of the body of a ``Residual`` at index 3 of a model
is ``"3.body.0.weight"``, the same name as in the torch twin (see :mod:`.residual`), so state
dicts move between the two. These dictionaries are gathered on each access and hold the
children's own arrays (not copies): writing into one of their values changes the child.

A container's architecture nests too: its ``config()`` holds its children's specs
(``{"type": ..., ...}``), and :func:`nanocnn.layers.build_layer` rebuilds it through the
class's :meth:`Container.from_spec`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from nanocnn.layers.base import Layer, accepts


class Container(Layer):
    """Base class of the layers that hold layers: named children, their arrays under dotted
    names, ``modules()`` and the fast training path (``fast_forward``/``fast_backward``)."""

    def __init__(self) -> None:  # no arrays of its own: params etc. are the children's
        pass

    def children(self) -> list[tuple[str, Layer]]:
        """(name, layer) for each direct child, in order: the names of the dotted paths."""
        raise NotImplementedError

    @property
    def params(self) -> dict[str, np.ndarray]:  # type: ignore[override]
        return self._gather("params")

    @property
    def grads(self) -> dict[str, np.ndarray]:  # type: ignore[override]
        return self._gather("grads")

    @property
    def buffers(self) -> dict[str, np.ndarray]:  # type: ignore[override]
        return self._gather("buffers")

    def _gather(self, store: str) -> dict[str, np.ndarray]:
        return {
            f"{name}.{key}": value
            for name, child in self.children()
            for key, value in getattr(child, store).items()
        }

    def named_arrays(self) -> Iterator[tuple[str, np.ndarray]]:
        """Every parameter and buffer by dotted name, in PyTorch's ``state_dict`` order (a
        layer's parameters, then its buffers, child after child)."""
        for name, child in self.children():
            if isinstance(child, Container):
                arrays = child.named_arrays()
            else:
                arrays = iter({**child.params, **child.buffers}.items())
            for key, value in arrays:
                yield f"{name}.{key}", value

    def containers(self) -> Iterator[Container]:
        """Every container nested in this one (not itself), depth first, in order."""
        for _, child in self.children():
            if isinstance(child, Container):
                yield child
                yield from child.containers()

    def modules(self) -> Iterator[Layer]:
        """Every leaf layer (a layer that is not a container), depth first, in order."""
        for _, child in self.children():
            if isinstance(child, Container):
                yield from child.modules()
            else:
                yield child

    def astype(self, dtype: np.typing.DTypeLike) -> Container:
        for _, child in self.children():
            child.astype(dtype)
        return self

    def fast_forward(self, x: np.ndarray, training: bool | None = None) -> np.ndarray:
        """``forward`` by the fastest route that gives the same output; follow it with
        ``fast_backward``, never ``backward``."""
        raise NotImplementedError

    def fast_backward(self, dout: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """``backward`` after a ``fast_forward``: the same gradients."""
        raise NotImplementedError

    @classmethod
    def from_spec(cls, args: dict[str, Any]) -> Container:
        """The container ``args`` (its spec without ``"type"``) describes, fresh weights."""
        raise NotImplementedError

    @classmethod
    def child_specs(cls, args: dict[str, Any]) -> list[tuple[str, Any]]:
        """(name, spec) of each child in the spec ``args`` (without ``"type"``), read without
        building anything (for the loader's checks); ValueError for a spec of another form."""
        raise NotImplementedError

    def summary_rows(
        self, x: np.ndarray, name: str, depth: int
    ) -> tuple[list[SummaryRow], np.ndarray]:
        """This container's rows in ``Sequential.summary`` (see :func:`summary_rows`) for
        input ``x`` (one sample), and its output."""
        raise NotImplementedError

    def __repr__(self) -> str:
        """PyTorch's layout: one child per line, nested containers indented."""
        lines = [f"({name}): {child!r}".replace("\n", "\n  ") for name, child in self.children()]
        return f"{type(self).__name__}(" + "".join(f"\n  {line}" for line in lines) + "\n)"


def forward_layer(
    layer: Layer, x: np.ndarray, training: bool, keep: bool = False, fast: bool = False
) -> np.ndarray:
    """``layer``'s output for ``x`` the way a container runs a child: ``fast`` takes a
    container child's fast path; ``keep`` (inference) keeps what backward needs."""
    if fast and isinstance(layer, Container):
        return layer.fast_forward(x, training)
    if keep:
        return forward_kept(layer, x)
    return layer.forward(x, training=training)


def backward_layer(
    layer: Layer, dout: np.ndarray, input_grad: bool = True, fast: bool = False
) -> np.ndarray | None:
    """``layer``'s backward the way a container calls a child (the fast path after a fast
    forward; ``input_grad`` only to a layer that takes it)."""
    if fast and isinstance(layer, Container):
        return layer.fast_backward(dout, input_grad)
    if not input_grad and accepts(layer.backward, "input_grad"):
        return layer.backward(dout, input_grad=False)
    dx = layer.backward(dout)
    if dx is None and input_grad:
        raise RuntimeError(f"{type(layer).__name__}.backward() returned no input gradient")
    return dx if input_grad else None


def backward_layers(
    layers: list[Layer], dout: np.ndarray, input_grad: bool, fast: bool
) -> np.ndarray | None:
    """Back-propagate ``dout`` through ``layers`` in reverse, the way ``Sequential.backward``
    runs its layers (its ``input_grad``: stop at the first layer with parameters)."""
    if not input_grad:
        first = next((i for i, layer in enumerate(layers) if layer.params), len(layers))
        layers = layers[first:]
    for index, layer in enumerate(reversed(layers)):
        if not input_grad and index == len(layers) - 1:  # the first layer with parameters
            backward_layer(layer, dout, input_grad=False, fast=fast)
            return None
        dx = backward_layer(layer, dout, input_grad=True, fast=fast)
        assert dx is not None  # input_grad=True
        dout = dx
    return dout if input_grad else None


def forward_kept(layer: Layer, x: np.ndarray) -> np.ndarray:
    """``layer.forward(x, training=False, keep=True)``, or a clear error for a layer whose
    forward has no ``keep`` (it keeps nothing in inference, so nothing could go back)."""
    if not accepts(layer.forward, "keep"):
        name = type(layer).__name__
        raise TypeError(
            f"{name}.forward() takes no keep argument, needed for gradients in inference "
            f"mode: add `keep: bool = False` and keep what backward needs when it is true"
        )
    return layer.forward(x, training=False, keep=True)


SummaryRow = tuple[str, str, str]  # (indented "name: layer", output shape, parameter count)


def summary_rows(
    layer: Layer, x: np.ndarray, name: str, depth: int
) -> tuple[list[SummaryRow], np.ndarray]:
    """The rows of ``Sequential.summary`` for ``layer`` (named ``name``, nested ``depth``
    deep) on input ``x`` (one sample), and its output: one row for a layer, a container's
    row followed by its children's, indented."""
    if isinstance(layer, Container):
        return layer.summary_rows(x, name, depth)
    out = layer.forward(x, training=False)
    count = sum(value.size for value in layer.params.values())
    row = ("  " * depth + f"{name}: {layer!r}", str(out.shape[1:]), f"{count:,}" if count else "")
    return [row], out


def container_row(layer: Container, out: np.ndarray, name: str, depth: int) -> SummaryRow:
    """A container's own row in the summary: its type, output shape and all its parameters."""
    count = sum(value.size for value in layer.params.values())
    row_name = "  " * depth + f"{name}: {type(layer).__name__}"
    return (row_name, str(out.shape[1:]), f"{count:,}" if count else "")


def summary_table(rows: list[SummaryRow], total: int) -> str:
    """``Sequential.summary``'s table: a header, the ``rows``, the ``total`` parameters."""
    width = max(len(row[0]) for row in rows)
    lines = [f"{'layer':<{width}}  {'output shape':<16} {'params':>10}"]
    lines.append("-" * len(lines[0]))
    lines += [f"{name:<{width}}  {shape:<16} {count:>10}" for name, shape, count in rows]
    lines.append("-" * len(lines[0]))
    lines.append(f"total parameters: {total:,}")
    return "\n".join(lines)
