"""Everything nanocnn keeps on disk, in one place.

    nanocnn.save(model, "model.safetensors")      # weights + architecture + metadata
    model = nanocnn.load("model.safetensors")       # the file alone rebuilds it
    nanocnn.load_weights(model, "from_torch.safetensors")  # or torch.save's "from_torch.pt"

- :mod:`.model_file`: model files, weights alone (state dicts) and training checkpoints;
- :mod:`.arrays`: named arrays plus a JSON header, in the format the suffix names
  (:data:`FORMATS`: ``.npz``, ``.safetensors``; ``.pt``, ``.pth``, ``.bin`` read only);
- :mod:`.npz`, :mod:`.safetensors`: those two containers, read without running code;
- :mod:`.torch_file`, :mod:`.torch_pickle`: PyTorch's ``torch.save`` files, never unpickled;
- :mod:`.atomic`: writes that a crash cannot leave half done.

ONNX export (:mod:`nanocnn.export`) writes through this package; nothing here knows of it.
"""

from nanocnn.io.arrays import (
    FORMATS,
    FileFormat,
    load_arrays,
    load_state_dict_file,
    read_safetensors,
    save_arrays,
)
from nanocnn.io.atomic import write_atomically
from nanocnn.io.model_file import load, load_weights, read_checkpoint, save, save_checkpoint

__all__ = [
    "FORMATS",
    "FileFormat",
    "load",
    "load_arrays",
    "load_state_dict_file",
    "load_weights",
    "read_checkpoint",
    "read_safetensors",
    "save",
    "save_arrays",
    "save_checkpoint",
    "write_atomically",
]
