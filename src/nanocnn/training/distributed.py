"""Data-parallel training over MPI: the ranks of one run, and what makes N ranks train as one.

    mpiexec -n 2 python -m nanocnn train            # or: nanocnn train --workers 2

Each rank holds the whole model. Every step, the global batch (the size the user asked for)
is split into contiguous shares, one per rank (:meth:`Workers.rows`); each rank runs forward
and backward on its share, with the loss gradient scaled by ``share / batch`` so that the
gradients *summed* over the ranks are those of the global batch's mean loss. The sum is one
``Allreduce`` over one contiguous buffer in which every parameter's gradient is a view
(:func:`gather_gradients`: the layers' backward writes straight into it, nothing is copied),
with two more numbers riding along for the log: the batch's summed loss and metric. Every
rank then applies the same optimizer step to the same weights, so they stay identical
(:meth:`Workers.check_same_weights` verifies it by a checksum every N steps with
``--check-weights N``).

Random draws that depend on the batch (augmentation, dropout masks) are drawn for the whole
global batch from the same seeded generator on every rank, and each rank keeps its rows
(:class:`ShardedDraws`): the generators stay in step on every rank, and N ranks draw exactly
what one process draws. BatchNorm sums its statistics over the ranks (see
:mod:`nanocnn.layers.batchnorm`). So N workers reproduce the 1-worker run up to the order of
float summation.

MPI is the optional ``mpi`` extra (mpi4py and MPICH); it is imported only when the process
runs under ``mpiexec`` with more than one rank (:func:`world_size`), so a single process never
loads it. ``nanocnn train --workers N`` starts that ``mpiexec`` (:mod:`.launch`).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, NoReturn

import numpy as np

from nanocnn._optional import require
from nanocnn.errors import NanocnnError
from nanocnn.training.launch import ABORTED, note_process_id

# How MPICH (Hydra), Open MPI and MVAPICH tell a process the number of ranks of its job.
WORLD_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")


def world_size() -> int:
    """The number of ranks this process was started with by ``mpiexec`` (1 without it)."""
    for variable in WORLD_SIZE_VARIABLES:
        value = os.environ.get(variable, "")
        if value.isdigit():
            return int(value)
    return 1


class Workers:
    """The ranks of one data-parallel run: an MPI communicator and the few collective
    operations training needs."""

    def __init__(self, comm: Any) -> None:
        self.comm = comm
        self.rank: int = comm.Get_rank()
        self.size: int = comm.Get_size()

    @classmethod
    def from_environment(cls) -> Workers | None:
        """The ranks of ``mpiexec``'s job, or None for a single process (MPI not loaded)."""
        if world_size() < 2:
            return None
        mpi = require("mpi4py.MPI", extra="mpi")
        workers = cls(mpi.COMM_WORLD)
        note_process_id(workers.rank)
        return workers

    @property
    def is_root(self) -> bool:
        """Whether this is rank 0, the one that writes files and prints."""
        return self.rank == 0

    def rows(self, count: int) -> slice:
        """This rank's contiguous share of ``count`` rows: ``[r*count//P, (r+1)*count//P)``."""
        return slice(self.rank * count // self.size, (self.rank + 1) * count // self.size)

    def sum(self, values: np.ndarray) -> np.ndarray:
        """Replace ``values`` (contiguous) by their element-wise sum over the ranks; returns it."""
        mpi = sys.modules["mpi4py.MPI"]
        self.comm.Allreduce(mpi.IN_PLACE, values, op=mpi.SUM)
        return values

    def gather(self, value: Any) -> list[Any]:
        """Every rank's ``value`` (any picklable object), in rank order, on every rank."""
        return self.comm.allgather(value)

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank."""
        return self.comm.bcast(value, root=0)

    def check_same_weights(self, model: Any, step: int) -> None:
        """Raise RuntimeError if the ranks' weights differ (a float64 checksum of every
        parameter, gathered: one pass over the weights and a few bytes sent)."""
        checksum = sum(float(np.sum(param, dtype=np.float64)) for _, param, _ in model.parameters())
        checksums = self.gather(checksum)
        if len(set(checksums)) > 1:
            raise RuntimeError(f"the ranks' weights differ after step {step}: {checksums}")

    def abort(self, message: str, code: int = 1) -> NoReturn:
        """Print ``message`` naming this rank, then end every rank of the job."""
        print(f"{message} (rank {self.rank} of {self.size})", file=sys.stderr, flush=True)
        self.comm.Abort(code)
        raise SystemExit(code)  # not reached: Abort ends the process

    @contextlib.contextmanager
    def abort_on_error(self, command: str = "nanocnn", traceback: bool = False) -> Iterator[None]:
        """End the whole job when this rank raises (the others would wait for it forever in
        their next collective operation): print the error naming the rank (with its
        ``traceback`` if asked), then ``Abort``. A Ctrl-C ends the job too, status 130."""
        try:
            yield
        except KeyboardInterrupt:
            self.abort(f"{command}: interrupted", code=130)
        except Exception as error:
            if traceback:
                import traceback as tb

                tb.print_exc()
            expected = isinstance(error, (NanocnnError, OSError, ValueError, ImportError))
            cause = str(error) if expected else f"{type(error).__name__}: {error}"
            self.abort(f"{command}: error: {cause}", code=ABORTED)


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
    """A trainer's side of data-parallel training over ``workers``: the gradient buffer
    (with the step's loss and metric sums at its end), this rank's share of each batch, the
    global-batch draws for augmentation (``draws``) and the random layers, and BatchNorm
    summing its statistics over the ranks. Build it after the optimizer."""

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
        self.gradients[-2:] = loss_sum, metric_sum
        self.workers.sum(self.gradients)
        return float(self.gradients[-2]), float(self.gradients[-1])


_LOADING: contextvars.ContextVar[Workers | None] = contextvars.ContextVar("loading", default=None)


@contextlib.contextmanager
def sharing_the_loading(workers: Workers | None) -> Iterator[None]:
    """Within this block, data loaders that can split their work over ``workers`` do (every
    rank must then make the same loading calls): picture folders are decoded a share per
    rank, then exchanged (see :func:`nanocnn.datasets.image_arrays.load_images`)."""
    token = _LOADING.set(workers)
    try:
        yield
    finally:
        _LOADING.reset(token)


def loading_workers() -> Workers | None:
    """The workers sharing the data loading now (:func:`sharing_the_loading`), or None."""
    return _LOADING.get()
