"""A nanocnn model's training step written as naive loops, the way tutorials write it.

Convolutions and pools are :mod:`nanocnn.reference`'s loops over every image, filter and
output pixel; dense layers, ReLU and Flatten are a line of NumPy each. It is the baseline the
vectorised core is measured against and, with the same weights, a second reference: the
benchmark smoke test checks that it computes nanocnn's logits and gradients.
"""

from __future__ import annotations

import copy

import numpy as np

import nanocnn as nc
from nanocnn import reference

# Pool type -> (forward, backward) loops, both called as f(x, [dout,] kernel, stride, padding)
POOLS = {
    nc.MaxPool2D: (reference.max_pool2d, reference.max_pool2d_backward),
    nc.AvgPool2D: (reference.avg_pool2d, reference.avg_pool2d_backward),
}


class NaiveNetwork:
    """A copy of ``model`` (Conv2D, pools, Dense, ReLU and Flatten only) trained with loops;
    the copy's ``params`` and ``grads`` are filled as nanocnn's own backward fills them."""

    def __init__(self, model: nc.Sequential) -> None:
        self.model = copy.deepcopy(model)
        self.loss = nc.SoftmaxCrossEntropy()
        self.optimizer = nc.Adam(self.model.parameters(), lr=1e-3)

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """x (N, C, H, W) -> (logits, every layer's input, which :meth:`backward` needs)."""
        inputs = []
        for layer in self.model:
            inputs.append(x)
            p = layer.params
            if isinstance(layer, nc.Conv2D):
                x = reference.conv2d(x, p["weight"], p.get("bias"), layer.stride, layer.pads)
            elif type(layer) in POOLS:
                pool = POOLS[type(layer)][0]
                x = pool(x, layer.kernel_size, layer.stride, layer.pads)
            elif isinstance(layer, nc.Dense):
                x = x @ p["weight"].T + p.get("bias", 0.0)  # (N, in) -> (N, out)
            elif isinstance(layer, nc.ReLU):
                x = np.maximum(x, 0.0)
            elif isinstance(layer, nc.Flatten):
                x = x.reshape(len(x), -1)  # (N, C, H, W) -> (N, C*H*W)
            else:
                raise ValueError(f"no naive version of {layer!r}")
        return x, inputs

    def backward(self, dout: np.ndarray, inputs: list[np.ndarray]) -> None:
        """Fill every layer's ``grads`` for the logit gradient ``dout`` (N, classes)."""
        for layer, x in zip(reversed(self.model.layers), reversed(inputs), strict=True):
            p, g = layer.params, layer.grads
            if isinstance(layer, nc.Conv2D):
                dout, g["weight"][...], dbias = reference.conv2d_backward(
                    x, p["weight"], dout, layer.stride, layer.pads
                )
                if "bias" in g:
                    g["bias"][...] = dbias
            elif type(layer) in POOLS:
                pool_backward = POOLS[type(layer)][1]
                dout = pool_backward(x, dout, layer.kernel_size, layer.stride, layer.pads)
            elif isinstance(layer, nc.Dense):
                g["weight"][...] = dout.T @ x  # (out, N) @ (N, in)
                if "bias" in g:
                    g["bias"][...] = dout.sum(axis=0)
                dout = dout @ p["weight"]  # (N, out) @ (out, in)
            elif isinstance(layer, nc.ReLU):
                dout = dout * (x > 0)
            elif isinstance(layer, nc.Flatten):
                dout = dout.reshape(x.shape)

    def gradients(self, images: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Fill ``grads`` for the mean cross-entropy of a batch; returns the logits (N, 10)."""
        logits, inputs = self.forward(images)
        self.loss.forward(logits, labels)
        self.backward(self.loss.backward(), inputs)
        return logits

    def train_step(self, images: np.ndarray, labels: np.ndarray) -> None:
        """One Adam step on a batch: images (N, C, H, W), labels (N,)."""
        self.gradients(images, labels)
        self.optimizer.step()
