"""BatchNorm folded into the convolution before it: an inference copy of a model.

In inference a ``BatchNorm2D`` is an affine map per channel with its running statistics, and
a ``Conv2D`` is linear in its input, so a convolution followed directly by a batch norm is
one convolution. With ``s = weight_bn / sqrt(running_var + eps)`` per output channel o,

    bn(conv(x))[o] = s[o] * (sum W[o] * x + b[o] - running_mean[o]) + bias_bn[o]
                   = sum (s[o] * W[o]) * x + (s[o] * (b[o] - running_mean[o]) + bias_bn[o])

so the folded layer has ``W'[o] = s[o] * W[o]`` and ``b'[o] = s[o] * (b[o] - running_mean[o])
+ bias_bn[o]`` (``b = 0`` for a convolution without bias), computed in float64 and stored in
the model's dtype. The batch norm's pass over the activations (read, scale, shift, write) is
gone; what remains is the convolution's bias, added in its own GEMM's output. The results agree
with the unfolded model's up to float rounding (the products are summed in another order).

Only a pair inside one ``Sequential`` (a model, a residual body, a shortcut) is folded:
``Sequential.fused()`` folds them all, in a copy. The copy's parameter names move (a folded
pair is one layer), so it is for inference and export, not for training or state dicts.
"""

from __future__ import annotations

import copy

import numpy as np

from nanocnn.layers.base import Layer
from nanocnn.layers.batchnorm import BatchNorm2D
from nanocnn.layers.conv import Conv2D


def fold_pairs(layers: list[Layer]) -> list[Layer]:
    """``layers`` (one ``Sequential``'s, in order) with each ``Conv2D`` that is directly
    followed by a ``BatchNorm2D`` and that batch norm replaced by their folded ``Conv2D``; the
    other layers are the same objects."""
    folded: list[Layer] = []
    for layer in layers:
        previous = folded[-1] if folded else None
        if isinstance(previous, Conv2D) and type(layer) is BatchNorm2D:
            folded[-1] = fold_batchnorm(previous, layer)
        else:
            folded.append(layer)
    return folded


def fold_batchnorm(conv: Conv2D, norm: BatchNorm2D) -> Conv2D:
    """The one ``Conv2D`` (with bias) that computes ``norm(conv(x))`` in inference: a copy of
    ``conv`` with new weight and bias arrays (no random initialisation to throw away: this
    runs on every ``predict``)."""
    dtype = conv.params["weight"].dtype
    scale = norm.params["weight"].astype(np.float64) / np.sqrt(
        norm.buffers["running_var"].astype(np.float64) + norm.eps
    )
    bias = conv.params["bias"].astype(np.float64) if "bias" in conv.params else 0.0
    shift = norm.params["bias"].astype(np.float64) - scale * norm.buffers["running_mean"]
    folded = copy.copy(conv)
    folded.params = {
        "weight": (conv.params["weight"] * scale[:, None, None, None]).astype(dtype),
        "bias": (scale * bias + shift).astype(dtype),
    }
    folded.grads = {name: np.zeros_like(value) for name, value in folded.params.items()}
    for name in folded.transient:  # what conv's last pass kept is not the copy's
        setattr(folded, name, None)
    return folded
