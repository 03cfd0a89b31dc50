"""Weights in from other tools: a state dict saved by PyTorch (or anyone) as safetensors.

    import safetensors.torch
    safetensors.torch.save_file(torch_model.state_dict(), "from_pytorch.safetensors")
    load_weights(model, "from_pytorch.safetensors")     # model: the same architecture

The names are PyTorch's ``nn.Sequential`` ones (``"0.weight"``, ``"3.running_mean"``), which
nanocnn's layers share; BatchNorm's ``num_batches_tracked`` is ignored. The other way needs
nothing from here: ``model.save("model.safetensors")`` writes a file that
``torch_model.load_state_dict(safetensors.torch.load_file("model.safetensors"))`` reads.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from nanocnn.errors import ModelFileError
from nanocnn.serialization import is_safetensors, load_arrays, read_safetensors

if TYPE_CHECKING:
    from nanocnn.model import Sequential


def load_weights(model: Sequential, path: str | os.PathLike) -> Sequential:
    """Copy the weights of the file at ``path`` into ``model`` in place; returns the model.

    ``path`` is any safetensors file of a state dict (from ``safetensors.torch.save_file``,
    ``safetensors.numpy.save_file`` or nanocnn), or a nanocnn ``.npz`` file. Its tensors are
    converted to the model's dtype. Raises ``ModelFileError`` naming the file when it cannot
    be read or its names and shapes do not fit the model.
    """
    arrays, _ = read_safetensors(path) if is_safetensors(path) else load_arrays(path)
    try:
        model.load_state_dict(arrays)
    except ValueError as error:
        raise ModelFileError(f"{path}: {error}") from error
    return model
