"""How stored samples become a model's input, as its metadata records.

Stored data may be compact: pictures stay uint8 (N, C, H, W) in memory, a quarter of float32.
:func:`input_converter` turns a batch of them into the model's input with the normalisation
the model carries in ``metadata["normalization"]`` (the mean and standard deviation of each
channel of its training pictures), batch by batch, in training (the trainer's ``inputs``) as
in prediction (:func:`predict_samples`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from nanocnn.layers import Sequential

Inputs = Callable[[np.ndarray], np.ndarray]  # a batch of stored samples -> the model's input


def input_converter(metadata: dict[str, Any]) -> Inputs | None:
    """The function that turns stored uint8 images (N, C, H, W) into the model's input, as
    recorded in ``metadata["normalization"]``: x = (pixels / 255 - mean[c]) / std[c]. None for
    a model without it (its data is stored as it is fed)."""
    normalization = metadata.get("normalization")
    if not isinstance(normalization, dict):
        return None
    mean = np.asarray(normalization["mean"], np.float32).reshape(1, -1, 1, 1)
    scale = 1 / (255 * np.asarray(normalization["std"], np.float32).reshape(1, -1, 1, 1))
    offset = mean * 255 * scale  # (p / 255 - m) / s == p * scale - offset

    def convert(pixels: np.ndarray) -> np.ndarray:
        x = pixels.astype(np.float32)
        x *= scale
        x -= offset
        return x

    return convert


def predict_samples(model: Sequential, samples: np.ndarray, chunk: int = 500) -> np.ndarray:
    """``model``'s outputs for stored ``samples``, converted chunk by chunk as
    :func:`input_converter` says (never the whole set as floats at once)."""
    convert = input_converter(model.metadata)
    if convert is None:
        return model.predict(samples)
    pieces = [model.predict(convert(samples[i : i + chunk])) for i in range(0, len(samples), chunk)]
    return np.concatenate(pieces)
