"""``to_onnx``: a model as an ONNX file, built with the ``onnx`` package (the ``export`` extra).

The graph reads ``input`` of shape (N, *input_shape), float32, with a dynamic batch axis
``N``, and writes ``output`` (N, ...): the model's own output (logits for the digit presets).
Weights are float32 initializers under their dotted PyTorch names (``"0.weight"``), also
those of a float64 model (onnxruntime runs convolutions in float32 only). The
model's ``metadata`` (task, class names, input shape, normalisation...) goes into the file's
``metadata_props``: strings as they are, anything else as JSON.

    import onnxruntime
    session = onnxruntime.InferenceSession("model.onnx")
    logits = session.run(None, {"input": images})[0]       # images: (N, 1, 28, 28) float32
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nanocnn._optional import require
from nanocnn.export.onnx_layers import GraphBuilder, emit_layer
from nanocnn.io.atomic import write_atomically
from nanocnn.layers.base import as_int
from nanocnn.version import __version__

if TYPE_CHECKING:
    from nanocnn.layers import Sequential

DEFAULT_OPSET = 21  # ONNX 1.16's operator set (2024): onnxruntime >= 1.18 runs it
MIN_OPSET = 13  # Softmax works on one axis from here on, as nanocnn's


def to_onnx(
    model: Sequential,
    path: str | os.PathLike,
    input_shape: tuple[int, ...] | None = None,
    opset: int = DEFAULT_OPSET,
) -> Path:
    """Write ``model`` to ``path`` as an ONNX model in inference form; returns the path.

    ``input_shape`` is one sample's shape without the batch axis, e.g. ``(1, 28, 28)``; it
    defaults to ``model.metadata["input_shape"]``. Raises ValueError for a layer type without
    an ONNX emitter (naming it), an input shape the model cannot take, or an opset outside
    ``MIN_OPSET`` to the newest the installed ``onnx`` knows; ImportError without ``onnx``.
    """
    onnx = require("onnx", extra="export")
    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise ValueError(f"opset must be between {MIN_OPSET} and {newest}, got {opset}")
    shape = _input_shape(model, input_shape)
    graph = GraphBuilder(onnx)
    x = "input"
    for name, layer in model.children():
        x = emit_layer(layer, graph, x, name)
    graph.finish(x, "output")
    # one sample through nanocnn itself: checks that the model takes this shape
    output_shape = model.forward(np.zeros((1, *shape), model.dtype), training=False).shape[1:]
    helper, float32 = onnx.helper, onnx.TensorProto.FLOAT
    proto = helper.make_model(
        helper.make_graph(
            graph.nodes,
            "nanocnn",
            [helper.make_tensor_value_info("input", float32, ["N", *shape])],
            [helper.make_tensor_value_info("output", float32, ["N", *output_shape])],
            graph.initializers,
        ),
        opset_imports=[helper.make_opsetid("", opset)],
        ir_version=helper.find_min_ir_version_for([helper.make_opsetid("", opset)]),
        producer_name="nanocnn",
        producer_version=__version__,
    )
    helper.set_model_props(proto, metadata_props(model.metadata))
    onnx.checker.check_model(proto, full_check=True)
    return write_atomically(path, lambda file: file.write(proto.SerializeToString()))


def _input_shape(model: Sequential, input_shape: tuple[int, ...] | None) -> tuple[int, ...]:
    shape = model.metadata.get("input_shape") if input_shape is None else input_shape
    if shape is None:
        raise ValueError(
            "the model's metadata has no input_shape: pass input_shape, e.g. (1, 28, 28)"
        )
    if not (isinstance(shape, (tuple, list)) and shape):
        raise ValueError(f"input_shape must be positive integers such as (1, 28, 28), got {shape}")
    return tuple(as_int(size, "input_shape", minimum=1) for size in shape)


def metadata_props(metadata: dict[str, Any]) -> dict[str, str]:
    """``metadata`` as ONNX's string-to-string ``metadata_props``: strings as they are,
    anything else JSON-encoded (``classes`` -> ``'["0", "1", ...]'``)."""
    return {
        str(key): value if isinstance(value, str) else json.dumps(value)
        for key, value in metadata.items()
    }
