"""Saliency maps: where a network looks when it decides (Simonyan et al. 2014).

For an image x (C, H, W) and the output s(x) of its chosen class, the map is the size of the
input gradient, taken at each pixel over the channels and scaled to [0, 1] per image:

    m[h, w] = max_c |ds/dx[c, h, w]|  /  max_{h, w} of that

Pixels where a small change moves the class's score most are brightest. The gradient comes
from :meth:`Sequential.input_gradient`, in inference mode, so the model is left untouched.
"""

from __future__ import annotations

import numpy as np

from nanocnn.layers import Sequential


def saliency_map(
    model: Sequential, x: np.ndarray, target: int | np.ndarray | None = None
) -> np.ndarray:
    """The saliency of each image of ``x`` (N, C, H, W) for the output ``target`` (an int for
    every image, (N,) ints, or None for each image's predicted class): (N, H, W) in [0, 1]
    (all zeros for an image whose gradient is zero)."""
    if np.ndim(x) != 4:
        raise ValueError(f"saliency_map expected images of shape (N, C, H, W), got {np.shape(x)}")
    grad = model.input_gradient(x, target)
    size = np.abs(grad).max(axis=1)  # (N, C, H, W) -> (N, H, W)
    peak = size.max(axis=(1, 2), keepdims=True)  # (N, 1, 1)
    return np.divide(size, peak, out=np.zeros_like(size), where=peak > 0)
