"""A deliberately naive LeNet-5, written the way tutorials write it: one image at a time,
Python loops over filters and output positions, one small dot product per output pixel.

It is the baseline the vectorised core is measured against, and, with the same weights as a
nanocnn LeNet, a second reference: the benchmark smoke test checks that the two agree.
Parameters are a nanocnn state dict: ``"0.weight"`` (6, 1, 5, 5) ... ``"11.bias"`` (10,).
"""

from __future__ import annotations

import numpy as np

import nanocnn as nc

CONVS, DENSES = ("0", "3"), ("7", "9", "11")  # layer indices in nanocnn's LeNet


def conv_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Valid cross-correlation: x (C, H, W), w (O, C, k, k), b (O,) -> (O, H-k+1, W-k+1)."""
    filters, _, k, _ = w.shape
    ho, wo = x.shape[1] - k + 1, x.shape[2] - k + 1
    out = np.zeros((filters, ho, wo), dtype=x.dtype)
    for f in range(filters):
        for i in range(ho):
            for j in range(wo):
                out[f, i, j] = np.sum(x[:, i : i + k, j : j + k] * w[f]) + b[f]
    return out


def conv_backward(
    x: np.ndarray, w: np.ndarray, dout: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dx, dw, db) for :func:`conv_forward`, sending each output's gradient through its window."""
    filters, _, k, _ = w.shape
    dx, dw = np.zeros_like(x), np.zeros_like(w)
    for f in range(filters):
        for i in range(dout.shape[1]):
            for j in range(dout.shape[2]):
                dx[:, i : i + k, j : j + k] += w[f] * dout[f, i, j]
                dw[f] += x[:, i : i + k, j : j + k] * dout[f, i, j]
    return dx, dw, dout.sum(axis=(1, 2))


def maxpool_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2x2 max pooling of x (C, H, W) -> (out (C, H/2, W/2), mask of the winners (C, H, W))."""
    c, h, w = x.shape
    out = np.zeros((c, h // 2, w // 2), dtype=x.dtype)
    mask = np.zeros_like(x)
    for ch in range(c):
        for i in range(h // 2):
            for j in range(w // 2):
                patch = x[ch, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2]
                u, v = np.unravel_index(np.argmax(patch), patch.shape)  # first max, as PyTorch
                out[ch, i, j] = patch[u, v]
                mask[ch, 2 * i + u, 2 * j + v] = 1
    return out, mask


def maxpool_backward(mask: np.ndarray, dout: np.ndarray) -> np.ndarray:
    """Each output's gradient goes to the input that won its window."""
    dx = np.zeros_like(mask)
    for ch in range(dout.shape[0]):
        for i in range(dout.shape[1]):
            for j in range(dout.shape[2]):
                dx[ch, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2] = (
                    mask[ch, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2] * dout[ch, i, j]
                )
    return dx


class NaiveLeNet:
    """LeNet-5 on single images. ``params`` is a nanocnn LeNet's ``state_dict()`` (copied)."""

    def __init__(self, params: dict[str, np.ndarray]) -> None:
        self.params = {name: value.copy() for name, value in params.items()}
        self.grads = {name: np.zeros_like(value) for name, value in self.params.items()}
        self.optimizer = nc.Adam(
            [(name, value, self.grads[name]) for name, value in self.params.items()], lr=1e-3
        )

    def forward(self, image: np.ndarray) -> tuple[np.ndarray, list]:
        """image (1, 28, 28) -> (logits (10,), the cache that :meth:`backward` needs)."""
        p, cache = self.params, []
        x = image
        for name in CONVS:
            z = conv_forward(x, p[f"{name}.weight"], p[f"{name}.bias"])
            pooled, mask = maxpool_forward(np.maximum(z, 0))
            cache.append((x, z, mask))
            x = pooled
        x = x.reshape(-1)  # (16, 4, 4) -> (256,)
        for name in DENSES:
            cache.append(x)
            x = p[f"{name}.weight"] @ x + p[f"{name}.bias"]
            if name != DENSES[-1]:
                x = np.maximum(x, 0)
        return x, cache

    def backward(self, dlogits: np.ndarray, cache: list) -> None:
        """Add this image's parameter gradients (for logit gradient ``dlogits``) to ``grads``."""
        p, g = self.params, self.grads
        d = dlogits
        for name, x in zip(reversed(DENSES), reversed(cache[2:]), strict=True):
            g[f"{name}.weight"] += np.outer(d, x)
            g[f"{name}.bias"] += d
            d = p[f"{name}.weight"].T @ d
            if name != DENSES[0]:
                d = d * (x > 0)  # through the ReLU that made x
        d = d.reshape(16, 4, 4)
        for index, name in zip((1, 0), reversed(CONVS), strict=True):
            x, z, mask = cache[index]
            dz = maxpool_backward(mask, d) * (z > 0)
            dx, dw, db = conv_backward(x, p[f"{name}.weight"], dz)
            g[f"{name}.weight"] += dw
            g[f"{name}.bias"] += db
            d = dx

    def gradients(self, images: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Fill ``grads`` for the mean cross-entropy of a batch, one image at a time;
        returns the logits (N, 10)."""
        for grad in self.grads.values():
            grad[...] = 0
        all_logits = []
        for image, label in zip(images, labels, strict=True):
            logits, cache = self.forward(image)
            probs = np.exp(logits - logits.max())
            probs /= probs.sum()
            probs[label] -= 1.0
            self.backward(probs / len(images), cache)
            all_logits.append(logits)
        return np.stack(all_logits)

    def train_step(self, images: np.ndarray, labels: np.ndarray) -> None:
        """One Adam step on a batch: images (N, 1, 28, 28), labels (N,)."""
        self.gradients(images, labels)
        self.optimizer.step()
