"""Data-parallel training: what makes N ranks train as one process does.

    mpiexec -n 2 python -m nanocnn train            # or: nanocnn train --workers 2

Each rank holds the whole model. Every step, the global batch (the size the user asked for)
is split into contiguous shares, one per rank (:meth:`~nanocnn.parallel.Workers.rows`); each
rank runs forward and backward on its share, with the loss gradient scaled by ``share /
batch`` so that the gradients *summed* over the ranks are those of the global batch's mean
loss. The sum is one
``Allreduce`` over one contiguous buffer in which every parameter's gradient is a view
(:func:`gather_gradients`: the layers' backward writes straight into it, nothing is copied),
with two more numbers riding along for the log: the batch's summed loss and metric. Every
rank then applies the same optimizer step to the same weights, so they stay identical
(:meth:`~nanocnn.parallel.Workers.check_same_weights` verifies it by a checksum every N
steps with ``--check-weights N``).

Random draws that depend on the batch (augmentation, dropout masks) are drawn for the whole
global batch from the same seeded generator on every rank, and each rank keeps its rows
(:class:`ShardedDraws`): the generators stay in step on every rank, and N ranks draw exactly
what one process draws. BatchNorm sums its statistics over the ranks (see
:mod:`nanocnn.layers.batchnorm`). So N workers reproduce the 1-worker run up to the order of
float summation.

The trainer takes this path whatever the number of ranks (:class:`DataParallel`): with the
one rank of a single process the share is the whole batch and the sums are the numbers
themselves.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from nanocnn.parallel.workers import Workers


@dataclass
class BatchShare:
    """The rows ``start:stop`` of a global batch of ``total`` that this rank works on; the
    trainer updates it before each step."""

    start: int = 0
    stop: int = 0
    total: int = 0


class ShardedDraws:
    """A random generator as seen by one rank: each per-sample draw (first dimension = this
    rank's share of the batch) is drawn for the whole global batch, and this rank's rows are
    returned. Every rank's generator therefore advances exactly as one process's would.

    Supports the draws augmentation and dropout make (``random``, ``uniform``, ``integers``,
    ``normal``, ``standard_normal``); other methods are refused, as they could not be sliced.
    """

    # where each method takes its ``size`` among the positional arguments
    SIZE_POSITION: ClassVar[dict[str, int]] = {
        "random": 0,
        "standard_normal": 0,
        "uniform": 2,
        "integers": 2,
        "normal": 2,
    }

    def __init__(self, generator: np.random.Generator, share: BatchShare) -> None:
        self.generator, self.share = generator, share

    @property
    def bit_generator(self) -> np.random.BitGenerator:
        """The wrapped generator's, so its state is saved and restored as usual."""
        return self.generator.bit_generator

    def __getattr__(self, name: str) -> Any:
        if name not in self.SIZE_POSITION:
            raise AttributeError(
                f"ShardedDraws supports only per-sample draws ({', '.join(self.SIZE_POSITION)}), "
                f"not {name!r}"
            )
        return functools.partial(self._draw, name)

    def _draw(self, method: str, *args: Any, **kwargs: Any) -> Any:
        position = self.SIZE_POSITION[method]
        args_list = list(args)
        size = args_list[position] if len(args_list) > position else kwargs.get("size")
        shape = (size,) if np.isscalar(size) else tuple(size or ())
        share = self.share
        if not shape or shape[0] != share.stop - share.start:
            raise ValueError(
                f"{method}(size={size}) is not a per-sample draw of this rank's "
                f"{share.stop - share.start} samples"
            )
        whole = (share.total, *shape[1:])
        if len(args_list) > position:
            args_list[position] = whole
        else:
            kwargs["size"] = whole
        return getattr(self.generator, method)(*args_list, **kwargs)[share.start : share.stop]


def gather_gradients(model: Any, optimizer: Any, extra: int = 0) -> np.ndarray:
    """Move every parameter's gradient into one contiguous buffer, of which each layer's
    ``grads[name]`` becomes a view (backward writes in place, so it fills the buffer), and
    point ``optimizer`` at the new arrays. ``extra`` more numbers are left at the end.

    Returns the buffer, ``(sum of the gradient sizes + extra,)`` in the model's dtype. Build
    the optimizer and convert the model's dtype before: ``astype`` would replace the views.
    """
    layers = [layer for layer in model.modules() if layer.grads]
    sizes = [grad.size for layer in layers for grad in layer.grads.values()]
    buffer = np.zeros(sum(sizes) + extra, dtype=model.dtype)
    offset = 0
    for layer in layers:
        for name, grad in layer.grads.items():
            view = buffer[offset : offset + grad.size].reshape(grad.shape)
            view[...] = grad
            layer.grads[name] = view
            offset += grad.size
    by_param = {id(param): grad for _, param, grad in model.parameters()}
    optimizer.params = [(name, param, by_param[id(param)]) for name, param, _ in optimizer.params]
    return buffer


class DataParallel:
    """A trainer's side of training over ``workers``: this rank's share of each batch and,
    for more than one rank, the gradient buffer (with the step's loss and metric sums at its
    end), the global-batch draws for augmentation (``draws``) and the random layers, and
    BatchNorm summing its statistics over the ranks. The one rank of a single process needs
    none of these: its share is the whole batch, its draws the generator's own (any method),
    its sums the numbers themselves. Build it after the optimizer."""

    def __init__(
        self,
        workers: Workers,
        model: Any,
        optimizer: Any,
        rng: np.random.Generator,
        random_layers: list[Any],
    ) -> None:
        self.workers = workers
        self.share = BatchShare()
        self.draws: np.random.Generator | ShardedDraws = rng
        self.gradients: np.ndarray | None = None
        if workers.size == 1:
            return
        self.gradients = gather_gradients(model, optimizer, extra=2)
        self.draws = ShardedDraws(rng, self.share)
        for layer in random_layers:
            layer.rng = ShardedDraws(layer.rng, self.share)
        for layer in model.modules():
            if hasattr(layer, "sync"):  # BatchNorm
                layer.sync = workers.sum

    def my_rows(self, index: np.ndarray) -> np.ndarray:
        """This rank's rows of the global batch ``index``, noted for the draws."""
        rows = self.workers.rows(len(index))
        self.share.start, self.share.stop, self.share.total = rows.start, rows.stop, len(index)
        return index[rows]

    def sum_step(self, loss_sum: float, metric_sum: float) -> tuple[float, float]:
        """Sum the gradients (already in the buffer) and this rank's loss and metric sums
        over the ranks, in one reduction; returns the global batch's (loss, metric) sums."""
        if self.gradients is None:  # one rank: nothing to add
            return loss_sum, metric_sum
        self.gradients[-2:] = loss_sum, metric_sum
        self.workers.sum(self.gradients)
        return float(self.gradients[-2]), float(self.gradients[-1])
