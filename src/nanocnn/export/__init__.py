"""Models that travel: ONNX export (the ``export`` extra).

:func:`to_onnx` writes a model as an ONNX graph that onnxruntime, OpenCV's DNN module or
ONNX.js run; each layer type has its emitter in :data:`EMITTERS` (:mod:`.onnx_layers`).
Safetensors and PyTorch weights need nothing from here: ``model.save("m.safetensors")`` and
``model.load_weights("from_pytorch.safetensors")`` (:mod:`nanocnn.persistence`).
"""

from nanocnn.export.onnx_layers import EMITTERS, GraphBuilder
from nanocnn.export.onnx_model import DEFAULT_OPSET, to_onnx

__all__ = ["DEFAULT_OPSET", "EMITTERS", "GraphBuilder", "to_onnx"]
