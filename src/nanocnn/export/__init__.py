"""Models that travel: ONNX export (the ``export`` extra) and weights from PyTorch.

- :func:`to_onnx` writes a model as an ONNX graph that onnxruntime, OpenCV's DNN module or
  ONNX.js run; each layer type has its emitter in :data:`EMITTERS` (:mod:`.onnx_layers`).
- :func:`load_weights` reads a state dict saved by ``safetensors.torch`` into a model.

Saving a whole model as safetensors needs nothing from here: ``model.save("m.safetensors")``.
"""

from nanocnn.export.onnx_layers import EMITTERS, GraphBuilder
from nanocnn.export.onnx_model import DEFAULT_OPSET, to_onnx
from nanocnn.export.weights import load_weights

__all__ = ["DEFAULT_OPSET", "EMITTERS", "GraphBuilder", "load_weights", "to_onnx"]
