"""Models that travel: ONNX export (the ``export`` extra).

:func:`to_onnx` writes a model as an ONNX graph that onnxruntime, OpenCV's DNN module or
ONNX.js run; each layer type has its emitter in :data:`EMITTERS` (:mod:`.onnx_layers`).
Safetensors and PyTorch weights need nothing from here: ``nanocnn.save(model,
"m.safetensors")`` and ``nanocnn.load_weights(model, "from_pytorch.safetensors")``
(:mod:`nanocnn.io`).
"""

from nanocnn.export.onnx_layers import EMITTERS, GraphBuilder
from nanocnn.export.onnx_model import DEFAULT_OPSET, to_onnx

__all__ = ["DEFAULT_OPSET", "EMITTERS", "GraphBuilder", "to_onnx"]
