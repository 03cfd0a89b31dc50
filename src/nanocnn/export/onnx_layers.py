"""One ONNX emitter per layer type: the nodes that compute the layer, in inference form.

An emitter is ``emit(layer, graph, x, name) -> y``: it adds to ``graph`` the nodes (and the
initializers, under the layer's dotted PyTorch names) that turn the tensor named ``x`` into
the layer's output, and returns that output's name; ``name`` is the layer's index in the
model. :data:`EMITTERS` maps each layer type to its emitter; a new layer type registers its
own with ``@emits(NewLayer)``. The ONNX operators match nanocnn's semantics exactly:

- Conv2D -> ``Conv``, with ``pads`` (top, left, bottom, right) taken from the layer's own
  pads, so ``"same"`` with an even kernel (one more at the bottom/right) and asymmetric pads
  carry over as they are;
- MaxPool2D -> ``MaxPool`` (padding never wins a maximum, as nanocnn's -inf padding) and
  AvgPool2D -> ``AveragePool`` with ``count_include_pad=1`` (zeros count in the mean); both
  round the output size down (``ceil_mode=0``), windows may overlap;
- Dense -> ``Gemm`` (y = x W^T + b, ``transB=1``); Flatten -> ``Flatten(axis=1)``;
- ReLU, LeakyReLU(alpha), Sigmoid, Tanh -> their operators; Softmax -> ``Softmax(axis=-1)``;
- BatchNorm1D/2D -> ``BatchNormalization`` with the running statistics (inference form);
- Dropout -> nothing (the identity in inference);
- GlobalAvgPool2D -> ``GlobalAveragePool`` then ``Flatten(axis=1)``: (N, C, 1, 1) -> (N, C);
- containers nest: a Sequential's children are emitted in order under ``<name>.<index>``, a
  Residual's body under ``<name>.body``, its shortcut under ``<name>.shortcut`` (the names of
  their weights), then ``Add`` of the two (of the body's output and the input itself for the
  identity shortcut).
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from nanocnn.layers import (
    AvgPool2D,
    BatchNorm1D,
    BatchNorm2D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAvgPool2D,
    Layer,
    LeakyReLU,
    MaxPool2D,
    ReLU,
    Residual,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
)


class GraphBuilder:
    """The nodes and float32 initializers of an ONNX graph being built."""

    def __init__(self, onnx: ModuleType) -> None:
        self.onnx = onnx
        self.nodes: list[Any] = []  # onnx.NodeProto
        self.initializers: list[Any] = []  # onnx.TensorProto

    def constant(self, name: str, value: np.ndarray) -> str:
        """Add ``value`` (as float32) as the initializer ``name``; returns the name."""
        array = np.asarray(value, dtype=np.float32)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attributes: Any) -> str:
        """Add the operator ``op`` reading ``inputs`` and writing ``output``; returns
        ``output``."""
        node = self.onnx.helper.make_node(op, inputs, [output], name=output, **attributes)
        self.nodes.append(node)
        return output

    def finish(self, x: str, output: str) -> None:
        """Make the tensor ``x`` the graph's output ``output``: the last node's output is
        renamed, or, if no node wrote ``x`` last (a model of Dropouts), an Identity is added."""
        if self.nodes and self.nodes[-1].output[0] == x:
            self.nodes[-1].output[0] = output
        else:
            self.node("Identity", [x], output)


Emitter = Callable[[Any, GraphBuilder, str, str], str]
EMITTERS: dict[type[Layer], Emitter] = {}


def emits(*layer_types: type[Layer]) -> Callable[[Emitter], Emitter]:
    """Register the decorated function as the emitter of ``layer_types``."""

    def register(emitter: Emitter) -> Emitter:
        for layer_type in layer_types:
            EMITTERS[layer_type] = emitter
        return emitter

    return register


def emit_layer(layer: Layer, graph: GraphBuilder, x: str, name: str) -> str:
    """Emit ``layer`` (named ``name``, its dotted path) with its registered emitter;
    ValueError naming the layer if its type has none."""
    emit = EMITTERS.get(type(layer))
    if emit is None:
        raise ValueError(
            f"layer {name} ({type(layer).__name__}) cannot be exported to ONNX: no emitter "
            "for this layer type in nanocnn.export.EMITTERS"
        )
    return emit(layer, graph, x, name)


def parameters(layer: Layer, graph: GraphBuilder, name: str, *keys: str) -> list[str]:
    """The initializer names of the layer's arrays ``keys`` (params or buffers) that exist,
    added to ``graph`` as ``<name>.<key>``."""
    arrays = {**layer.params, **layer.buffers}
    return [graph.constant(f"{name}.{key}", arrays[key]) for key in keys if key in arrays]


@emits(Conv2D)
def conv(layer: Conv2D, graph: GraphBuilder, x: str, name: str) -> str:
    top, bottom, left, right = layer.pads
    return graph.node(
        "Conv",
        [x, *parameters(layer, graph, name, "weight", "bias")],
        f"{name}.conv",
        kernel_shape=list(layer.kernel_size),
        strides=list(layer.stride),
        pads=[top, left, bottom, right],
    )


def _window(layer: MaxPool2D | AvgPool2D) -> dict[str, Any]:
    """The attributes both pooling operators share."""
    top, bottom, left, right = layer.pads
    return {
        "kernel_shape": list(layer.kernel_size),
        "strides": list(layer.stride),
        "pads": [top, left, bottom, right],
        "ceil_mode": 0,
    }


@emits(MaxPool2D)
def max_pool(layer: MaxPool2D, graph: GraphBuilder, x: str, name: str) -> str:
    return graph.node("MaxPool", [x], f"{name}.maxpool", **_window(layer))


@emits(AvgPool2D)
def avg_pool(layer: AvgPool2D, graph: GraphBuilder, x: str, name: str) -> str:
    return graph.node("AveragePool", [x], f"{name}.avgpool", count_include_pad=1, **_window(layer))


@emits(Dense)
def dense(layer: Dense, graph: GraphBuilder, x: str, name: str) -> str:
    inputs = [x, *parameters(layer, graph, name, "weight", "bias")]
    return graph.node("Gemm", inputs, f"{name}.gemm", transB=1)


@emits(Flatten)
def flatten(layer: Flatten, graph: GraphBuilder, x: str, name: str) -> str:
    return graph.node("Flatten", [x], f"{name}.flatten", axis=1)


@emits(ReLU)
def relu(layer: ReLU, graph: GraphBuilder, x: str, name: str) -> str:
    return graph.node("Relu", [x], f"{name}.relu")


@emits(LeakyReLU)
def leaky_relu(layer: LeakyReLU, graph: GraphBuilder, x: str, name: str) -> str:
    return graph.node("LeakyRelu", [x], f"{name}.leakyrelu", alpha=layer.negative_slope)


@emits(Sigmoid)
def sigmoid(layer: Sigmoid, graph: GraphBuilder, x: str, name: str) -> str:
    return graph.node("Sigmoid", [x], f"{name}.sigmoid")


@emits(Tanh)
def tanh(layer: Tanh, graph: GraphBuilder, x: str, name: str) -> str:
    return graph.node("Tanh", [x], f"{name}.tanh")


@emits(Softmax)
def softmax(layer: Softmax, graph: GraphBuilder, x: str, name: str) -> str:
    return graph.node("Softmax", [x], f"{name}.softmax", axis=-1)


@emits(BatchNorm1D, BatchNorm2D)
def batch_norm(layer: BatchNorm1D | BatchNorm2D, graph: GraphBuilder, x: str, name: str) -> str:
    keys = ("weight", "bias", "running_mean", "running_var")
    inputs = [x, *parameters(layer, graph, name, *keys)]
    return graph.node("BatchNormalization", inputs, f"{name}.batchnorm", epsilon=layer.eps)


@emits(Dropout)
def dropout(layer: Dropout, graph: GraphBuilder, x: str, name: str) -> str:
    return x


@emits(GlobalAvgPool2D)
def global_avg_pool(layer: GlobalAvgPool2D, graph: GraphBuilder, x: str, name: str) -> str:
    pooled = graph.node("GlobalAveragePool", [x], f"{name}.globalavgpool")  # (N, C, 1, 1)
    return graph.node("Flatten", [pooled], f"{name}.flatten", axis=1)


@emits(Sequential)
def sequential(layer: Sequential, graph: GraphBuilder, x: str, name: str) -> str:
    for child_name, child in layer.children():
        x = emit_layer(child, graph, x, f"{name}.{child_name}")
    return x


@emits(Residual)
def residual(layer: Residual, graph: GraphBuilder, x: str, name: str) -> str:
    body = emit_layer(layer.body, graph, x, f"{name}.body")
    skip = x if layer.shortcut is None else emit_layer(layer.shortcut, graph, x, f"{name}.shortcut")
    return graph.node("Add", [body, skip], f"{name}.add")
