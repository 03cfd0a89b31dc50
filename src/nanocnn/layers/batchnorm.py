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

The layer works on the (C, M) matrix of each feature's values in a row, keeps x - mean
rather than xhat, and takes the sums over M as row sums and row dot products. For
BatchNorm2D after a convolution or a pool that matrix is a free view of the batch-last array
they hand on, so each step is one pass over contiguous memory (another layout is copied into
it once; BatchNorm1D's rows are the columns of its (N, features) input).

Inference uses the running statistics instead of the batch's: an affine map per feature,

    y       = weight * xhat + bias,   xhat = (x - running_mean) / sqrt(running_var + eps)
    dx      = dout * weight / sqrt(running_var + eps)
    dweight = sum(dout * xhat),   dbias = sum(dout)

(the gradients of an inference pass kept with ``keep=True``; nothing is updated).

Data-parallel training (:mod:`nanocnn.training.distributed`) sets ``sync``, a function that
sums an array over the ranks in place. Each rank then normalises with the statistics of the
*global* batch: its per-feature sums of x (in float64) and its count go out in one small
reduction (``mean = Σx / M``), then its sums of (x - mean)² in a second (``var``); backward
sums ``dbias`` and ``dweight`` over the ranks (a third) for ``dx``, while ``grads`` keep
this rank's share, which the gradient reduction adds up. So N ranks compute what one process
computes on the whole batch, up to the order of float summation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from nanocnn.errors import InputShapeError
from nanocnn.kernels import to_chwn, to_nchw
from nanocnn.layers.base import Layer, as_int
from nanocnn.layers.registry import register_layer


class _BatchNorm(Layer):
    """Shared by the 1-D and 2-D forms, which differ only in how an input becomes the (C, M)
    matrix of each feature's values (:meth:`_rows`) and back."""

    size_args = ("num_features",)
    fresh_output = True
    # and ``sync``, the link to the other ranks of a data-parallel run: a copy computes alone
    transient = ("_cache", "sync")

    ndim = 0

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
        # x - mean, 1 / std, whether the statistics were the batch's, and the values per feature
        self._cache: tuple[np.ndarray, np.ndarray, bool, int] | None = None

    def config(self) -> dict[str, Any]:
        return {"num_features": self.num_features, "eps": self.eps, "momentum": self.momentum}

    def _rows(self, x: np.ndarray) -> np.ndarray:
        """The values of each feature as one row: (C, M), a view where the layout allows."""
        raise NotImplementedError

    def _unrows(self, rows: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """The inverse of :meth:`_rows`: (C, M) -> an input-shaped view."""
        raise NotImplementedError

    def forward(self, x: np.ndarray, training: bool = False, keep: bool = False) -> np.ndarray:
        self._check_input(x, ndim=self.ndim, channels=self.num_features)
        rows = self._rows(x)  # (C, M)
        count = rows.shape[1]
        if training:
            mean, count = self._batch_mean(rows, x.shape)
            centred = rows - mean[:, None]
            squares = _row_dots(centred, centred)  # from the centred values: no cancellation
            var = (squares if self.sync is None else self.sync(squares)) / count  # biased
            m = self.momentum
            self.buffers["running_mean"] *= 1.0 - m
            self.buffers["running_mean"] += m * mean
            self.buffers["running_var"] *= 1.0 - m
            self.buffers["running_var"] += (m * count / (count - 1)) * var
        else:
            centred = rows - self.buffers["running_mean"][:, None]
            var = self.buffers["running_var"]
        inv_std = (1.0 / np.sqrt(var + self.eps)).astype(rows.dtype)
        self._cache = (centred, inv_std, training, count) if training or keep else None
        out = centred * (self.params["weight"] * inv_std)[:, None]
        out += self.params["bias"][:, None]
        return self._unrows(out, x.shape)

    def backward(self, dout: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        if self._cache is None:
            raise self._missing_cache()
        centred, inv_std, batch_statistics, count = self._cache
        drows = self._rows(dout)
        dbias = np.matmul(drows, _ones(drows), out=self.grads["bias"])  # row sums
        dweight = np.multiply(_row_dots(drows, centred), inv_std, out=self.grads["weight"])
        if not input_grad:
            return None
        scale = self.params["weight"] * inv_std  # dy/dx with the statistics held constant
        dx = drows * scale[:, None]
        if batch_statistics:  # the statistics' own gradients: two terms per feature
            if self.sync is not None:  # the whole batch's sums, over every rank
                sums = self.sync(np.concatenate([dbias, dweight]))
                dbias, dweight = sums[: self.num_features], sums[self.num_features :]
            dx -= centred * (scale * inv_std * dweight / count)[:, None]
            dx -= (scale * dbias / count)[:, None]
        return self._unrows(dx, dout.shape)

    def _batch_mean(self, rows: np.ndarray, shape: tuple[int, ...]) -> tuple[np.ndarray, int]:
        """(mean, values per feature) of the batch, over every rank's batch when ``sync``
        is set: one reduction of the per-feature sums (in float64) and of the count. The sums
        are a matrix-vector product: a BLAS pass over the rows, 4x faster than ``np.sum``."""
        sums = np.empty(self.num_features + 1)
        sums[:-1] = rows @ _ones(rows)
        sums[-1] = rows.shape[1]
        if self.sync is not None:
            self.sync(sums)
        count = int(sums[-1])
        if count < 2:
            raise InputShapeError(
                f"{type(self).__name__} needs more than one value per feature to train, "
                f"got input of shape {shape}"
            )
        return (sums[:-1] / count).astype(rows.dtype), count


def _ones(rows: np.ndarray) -> np.ndarray:
    """A vector of ones for the row sums of ``rows`` (C, M) as ``rows @ ones``."""
    return np.ones(rows.shape[1], dtype=rows.dtype)


def _row_dots(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(C,) dot products of the rows of two (C, M) matrices, without an (C, M) temporary."""
    return np.matmul(a[:, None, :], b[:, :, None]).reshape(a.shape[0])


@register_layer
class BatchNorm2D(_BatchNorm):
    """``BatchNorm2D(num_features, eps=1e-5, momentum=0.1)`` on (N, C, H, W), per channel."""

    ndim = 4

    def _rows(self, x: np.ndarray) -> np.ndarray:
        return to_chwn(x).reshape(self.num_features, -1)  # free for a batch-last x

    def _unrows(self, rows: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        n, c, h, w = shape
        return to_nchw(rows.reshape(c, h, w, n))


@register_layer
class BatchNorm1D(_BatchNorm):
    """``BatchNorm1D(num_features, eps=1e-5, momentum=0.1)`` on (N, features), per feature."""

    ndim = 2

    def _rows(self, x: np.ndarray) -> np.ndarray:
        return x.T

    def _unrows(self, rows: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        return rows.T
