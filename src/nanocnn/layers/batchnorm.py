"""Batch normalisation with running statistics, as PyTorch's BatchNorm1d/2d.

Per feature (channel), over the M values of the batch (N for 1-D, N*H*W for 2-D), training:

    xhat = (x - mean) / sqrt(var + eps)            var biased (divided by M)
    y    = weight * xhat + bias
    running_mean <- (1 - momentum) * running_mean + momentum * mean
    running_var  <- (1 - momentum) * running_var  + momentum * var * M / (M - 1)

Backward (all sums over the M values of one feature):

    dbias   = sum(dout)
    dweight = sum(dout * xhat)
    dx      = weight / (M * sqrt(var + eps)) * (M * dout - dbias - xhat * dweight)

Inference uses the running statistics instead of the batch's: an affine map per feature,

    y       = weight * xhat + bias,   xhat = (x - running_mean) / sqrt(running_var + eps)
    dx      = dout * weight / sqrt(running_var + eps)
    dweight = sum(dout * xhat),   dbias = sum(dout)

(the gradients of an inference pass kept with ``keep=True``; nothing is updated).

Data-parallel training (:mod:`nanocnn.training.distributed`) sets ``sync``, a function that
sums an array over the ranks in place. Each rank then normalises with the statistics of the
*global* batch: its per-feature sums of x and x² (in float64) and its count go out in one
small reduction, ``mean = Σx / M``, ``var = Σx² / M - mean²``; backward sums ``dbias`` and
``dweight`` over the ranks (a second one) for ``dx``, while ``grads`` keep this rank's share,
which the gradient reduction adds up. So N ranks compute what one process computes on the
whole batch, up to the order of float summation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from nanocnn.layers.base import Layer, as_int


class _BatchNorm(Layer):
    """Shared by the 1-D and 2-D forms, which differ only in the axes they reduce over."""

    ndim = 0
    axes: tuple[int, ...] = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        dtype: np.typing.DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        self.num_features = as_int(num_features, "num_features", minimum=1)
        self.eps, self.momentum = float(eps), float(momentum)
        self.params = {
            "weight": np.ones(self.num_features, dtype=dtype),
            "bias": np.zeros(self.num_features, dtype=dtype),
        }
        self.grads = {name: np.zeros_like(value) for name, value in self.params.items()}
        self.buffers = {
            "running_mean": np.zeros(self.num_features, dtype=dtype),
            "running_var": np.ones(self.num_features, dtype=dtype),
        }
        # summing arrays over the ranks of a data-parallel run (None: one process)
        self.sync: Callable[[np.ndarray], np.ndarray] | None = None
        # xhat, 1 / std, whether the statistics were the batch's, and the values per feature
        self._cache: tuple[np.ndarray, np.ndarray, bool, int] | None = None

    def config(self) -> dict[str, Any]:
        return {"num_features": self.num_features, "eps": self.eps, "momentum": self.momentum}

    def _per_feature(self, values: np.ndarray) -> np.ndarray:
        """Reshape a (C,) vector so that it broadcasts against the input."""
        return values.reshape((1, -1) + (1,) * (self.ndim - 2))

    def forward(self, x: np.ndarray, training: bool = False, keep: bool = False) -> np.ndarray:
        self._check_input(x, ndim=self.ndim, channels=self.num_features)
        count = x.size // self.num_features
        if training:
            if self.sync is None:
                mean, var = x.mean(axis=self.axes), x.var(axis=self.axes)
            else:
                mean, var, count = self._global_statistics(x, count)
            if count < 2:
                raise ValueError(
                    f"{type(self).__name__} needs more than one value per feature to train, "
                    f"got input of shape {x.shape}"
                )
            m = self.momentum
            self.buffers["running_mean"] *= 1.0 - m
            self.buffers["running_mean"] += m * mean
            self.buffers["running_var"] *= 1.0 - m
            self.buffers["running_var"] += (m * count / (count - 1)) * var
        else:
            mean, var = self.buffers["running_mean"], self.buffers["running_var"]
        inv_std = 1.0 / np.sqrt(var + self.eps)
        xhat = (x - self._per_feature(mean)) * self._per_feature(inv_std)
        self._cache = (xhat, inv_std, training, count) if training or keep else None
        return xhat * self._per_feature(self.params["weight"]) + self._per_feature(
            self.params["bias"]
        )

    def backward(self, dout: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        if self._cache is None:
            raise self._missing_cache()
        xhat, inv_std, batch_statistics, count = self._cache
        dbias = np.sum(dout, axis=self.axes, out=self.grads["bias"])
        dweight = np.sum(dout * xhat, axis=self.axes, out=self.grads["weight"])
        if not input_grad:
            return None
        if not batch_statistics:  # the running statistics are constants
            return dout * self._per_feature(self.params["weight"] * inv_std)
        if self.sync is not None:  # the whole batch's sums, over every rank
            sums = self.sync(np.concatenate([dbias, dweight]))
            dbias, dweight = sums[: self.num_features], sums[self.num_features :]
        scale = self._per_feature(self.params["weight"] * inv_std / count)
        return scale * (count * dout - self._per_feature(dbias) - xhat * self._per_feature(dweight))

    def _global_statistics(self, x: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray, int]:
        """(mean, biased variance, values per feature) over every rank's batch: one
        reduction of the per-feature sums of x and x² (float64) and of the count."""
        assert self.sync is not None
        sums = np.empty(2 * self.num_features + 1)
        np.sum(x, axis=self.axes, dtype=np.float64, out=sums[: self.num_features])
        np.sum(np.square(x), axis=self.axes, dtype=np.float64, out=sums[self.num_features : -1])
        sums[-1] = count
        self.sync(sums)
        total = int(sums[-1])
        mean = sums[: self.num_features] / total
        var = np.maximum(sums[self.num_features : -1] / total - mean * mean, 0.0)
        return mean.astype(x.dtype), var.astype(x.dtype), total


class BatchNorm2D(_BatchNorm):
    """``BatchNorm2D(num_features, eps=1e-5, momentum=0.1)`` on (N, C, H, W), per channel."""

    ndim = 4
    axes = (0, 2, 3)


class BatchNorm1D(_BatchNorm):
    """``BatchNorm1D(num_features, eps=1e-5, momentum=0.1)`` on (N, features), per feature."""

    ndim = 2
    axes = (0,)
