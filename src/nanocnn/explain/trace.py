"""One input through a model, layer by layer: what each layer received and gave, and, going
back, the gradient of one output with respect to each of them.

    trace = gradients(model, x, target=7)      # x: (1, C, H, W)
    for column in trace.columns:
        column.name, column.output.shape, column.grad.shape    # "0", (1, 6, 24, 24), ...

A column is one step of the forward pass: a leaf layer (a Conv2D, a ReLU...) or a block that
is more than its layers (a Residual's sum, named as the block), in the order they ran. The
pass is the model's own ``forward`` and ``backward``, run on a detached copy (the same
weights, its own caches and gradients: :func:`nanocnn.layers.state.detached`), in which every
step is wrapped in a :class:`Probe` that notes what goes through it, as PyTorch's hooks do.
So the model itself is left exactly as it was, and the gradients are those the layers'
hand-written ``backward`` computes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nanocnn.layers import Conv2D, Layer, ReLU, Residual, Sequential
from nanocnn.layers.container import Container, backward_layer, forward_layer
from nanocnn.layers.inputs import select_outputs
from nanocnn.layers.state import detached


@dataclass
class Column:
    """One step of the forward pass of one input, by its dotted name in the model."""

    name: str  # "3.body.0" as in the parameter names; a Residual's own name for its sum
    layer: Layer  # the layer (of the detached copy)
    input: np.ndarray  # (1, ...) what it received
    output: np.ndarray  # (1, ...) what it gave
    grad: np.ndarray | None = None  # (1, ...) d score / d output (``gradients`` only)
    param_grads: dict[str, np.ndarray] = field(default_factory=dict)  # d score / d weight...


@dataclass
class Trace:
    """A model's pass over one input ``x`` (1, C, H, W): its columns in the order they ran,
    and for ``gradients`` the output ``target`` whose gradient they hold."""

    x: np.ndarray
    columns: list[Column]
    target: int | None = None  # None: forward only
    input_grad: np.ndarray | None = None  # (1, C, H, W) d score / d x

    @property
    def output(self) -> np.ndarray:
        """The model's output (1, K)."""
        return self.columns[-1].output

    def column(self, name: str) -> Column:
        """The column called ``name``; KeyError if there is none."""
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"no layer {name!r} in this model")


class Probe(Layer):
    """Stands in for ``layer`` in the copy a trace runs: runs it as its container would and
    notes its :class:`Column` in ``seen`` (forward) and the gradient of its output and
    parameters (backward)."""

    transient = ()

    def __init__(self, name: str, layer: Layer, seen: list[Column]) -> None:
        super().__init__()
        self.name, self.layer, self.seen = name, layer, seen
        self.column: Column | None = None

    def forward(self, x: np.ndarray, training: bool = False, keep: bool = False) -> np.ndarray:
        out = forward_layer(self.layer, x, training, keep)
        self.column = Column(self.name, self.layer, x, out)
        self.seen.append(self.column)
        return out

    def backward(self, dout: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        assert self.column is not None  # a kept forward came first
        self.column.grad = dout
        dx = backward_layer(self.layer, dout, input_grad)
        if not isinstance(self.layer, Container):  # a container's are its layers'
            self.column.param_grads = dict(self.layer.grads)
        return dx


def activations(model: Sequential, x: np.ndarray) -> Trace:
    """Every layer's input and output for the one input ``x`` (1, C, H, W), in inference."""
    probed, seen = _probed(model)
    probed.forward(x, training=False)
    return Trace(x, seen)


def gradients(model: Sequential, x: np.ndarray, target: int | None = None) -> Trace:
    """:func:`activations` and, for the output ``target`` (its largest output when None; a
    class's logit, or a regression's value), its gradient with respect to every layer's
    output and parameters and to ``x``, from the layers' own backward."""
    probed, seen = _probed(model)
    out = probed.forward(x, training=False, keep=True)  # (1, K)
    chosen = int(out[0].argmax()) if target is None else int(target)
    if not 0 <= chosen < out.shape[1]:
        raise ValueError(f"target must lie in [0, {out.shape[1]}), got {target}")
    input_grad = probed.backward(select_outputs(out, chosen))  # the score is out[0, chosen]
    return Trace(x, seen, chosen, input_grad)


def _probed(model: Sequential) -> tuple[Sequential, list[Column]]:
    """A detached copy of ``model`` with a Probe around every leaf layer and every container
    but a Sequential (whose output is its last layer's), and the list they note into."""
    copy = detached(model)
    seen: list[Column] = []
    _probe_children(copy, "", seen)
    return copy, seen


def _probe_children(container: Container, prefix: str, seen: list[Column]) -> None:
    for name, child in container.children():
        path = prefix + name
        if isinstance(child, Container):
            _probe_children(child, f"{path}.", seen)
            if isinstance(child, Sequential):
                continue
        probe = Probe(path, child, seen)
        if isinstance(container, Sequential):
            container.layers[int(name)] = probe
        elif getattr(container, name, None) is child:  # Residual's shortcut
            setattr(container, name, probe)
        else:
            raise TypeError(f"cannot look inside {type(container).__name__}: {name!r}")


def without_skips(model: Sequential) -> Sequential:
    """``model`` with every Residual block replaced by its body alone (its shortcut dropped):
    the same layers, sharing their weights, with no path around them. The layers are named
    as in ``model`` without the ``body`` (``3.body.0`` becomes ``3.0``: see
    :func:`skipless_name`)."""
    return Sequential(*(_skipless(layer) for layer in model))


def _skipless(layer: Layer) -> Layer:
    if isinstance(layer, (Residual, Sequential)):
        inner = layer.body if isinstance(layer, Residual) else layer
        return Sequential(*(_skipless(child) for child in inner))
    return layer


def has_skips(layer: Layer) -> bool:
    """Whether ``layer`` is or holds a Residual block."""
    if isinstance(layer, Residual):
        return True
    return isinstance(layer, Container) and any(has_skips(c) for _, c in layer.children())


def skipless_name(name: str) -> str:
    """The name in ``without_skips(model)`` of the layer called ``name`` in ``model``."""
    return name.replace(".body.", ".")


def first_conv(model: Sequential) -> int | None:
    """The index of the model's first Conv2D among its layers, or None."""
    return next((i for i, layer in enumerate(model) if isinstance(layer, Conv2D)), None)


def first_conv_maps(model: Sequential, x: np.ndarray) -> np.ndarray | None:
    """The first Conv2D's output for one input ``x`` (1, C, H, W), through the ReLU that follows
    it if one does: (C', H', W'). None when the model has no convolution."""
    first = first_conv(model)
    if first is None:
        return None
    end = first + 1
    if end < len(model) and isinstance(model[end], ReLU):
        end += 1  # the maps as the next layer receives them
    for layer in model.layers[:end]:
        x = layer.forward(x, training=False)
    return x[0]
