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
(:meth:`Workers.check_same_weights` verifies it by a checksum in debug mode).

Random draws that depend on the batch (augmentation, dropout masks) are drawn for the whole
global batch from the same seeded generator on every rank, and each rank keeps its rows
(:class:`ShardedDraws`): the generators stay in step on every rank, and N ranks draw exactly
what one process draws. BatchNorm sums its statistics over the ranks (see
:mod:`nanocnn.layers.batchnorm`). So N workers reproduce the 1-worker run up to the order of
float summation.

MPI is the optional ``mpi`` extra (mpi4py and MPICH); it is imported only when the process
runs under ``mpiexec`` with more than one rank (:func:`world_size`), so a single process never
loads it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, NoReturn

import numpy as np

from nanocnn._optional import require
from nanocnn.errors import NanocnnError

# How MPICH (Hydra), Open MPI and MVAPICH tell a process the number of ranks of its job.
WORLD_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")
INSTALL_HINT = "pip install 'nanocnn[mpi]' (mpi4py and MPICH)"


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
    layers = list(_layers_with_grads(model))
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


def _layers_with_grads(model: Any) -> Iterator[Any]:
    """Every layer holding gradients, looking inside containers (anything iterable)."""
    for layer in model:
        if getattr(layer, "grads", None):
            yield layer
        elif hasattr(layer, "__iter__"):
            yield from _layers_with_grads(layer)


def mpiexec() -> str:
    """The ``mpiexec`` of the installed MPI (the mpich wheel puts it beside Python), or
    ImportError saying how to install one when MPI or mpi4py is missing."""
    import importlib.util
    import shutil

    beside_python = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    found = beside_python if os.access(beside_python, os.X_OK) else shutil.which("mpiexec")
    if found is None or importlib.util.find_spec("mpi4py") is None:
        raise ImportError(f"--workers needs MPI: {INSTALL_HINT}")
    return found


def launch(workers: int, arguments: list[str]) -> int:
    """Run ``python -m nanocnn.cli ARGUMENTS`` as ``workers`` ranks of ``mpiexec`` on this
    machine, each with one BLAS thread (the ranks share the cores); returns its exit status.

    It says what it runs. When a rank dies (a signal, the out-of-memory killer, an error),
    ``mpiexec`` ends the others and prints the cause with the process id; this adds which
    rank that was (each rank notes its process id in a folder given by ``PIDS_VARIABLE``,
    and the ranks' output passes through here)."""
    import re
    import shlex
    import subprocess
    import tempfile

    command = [mpiexec(), "-n", str(workers), sys.executable, "-m", "nanocnn.cli", *arguments]
    print(f"nanocnn: {workers} workers, 1 BLAS thread each: {shlex.join(command)}", flush=True)
    with tempfile.TemporaryDirectory(prefix="nanocnn-workers-") as pids:
        threads = {name: "1" for name in BLAS_THREAD_VARIABLES}
        process = subprocess.Popen(
            command,
            env={**os.environ, **threads, PIDS_VARIABLE: pids},
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        assert process.stdout is not None
        dead: str | None = None
        try:
            for line in process.stdout:
                sys.stdout.write(line)
                sys.stdout.flush()
                if found := re.search(r"PID (\d+) RUNNING AT", line):
                    dead = found.group(1)
            status = process.wait()
        except KeyboardInterrupt:  # mpiexec got the Ctrl-C too and ends the ranks
            return process.wait()
        ranks = {_read(os.path.join(pids, name)): name for name in os.listdir(pids)}
    if status not in (0, ABORTED, 130):  # a rank that aborted has said why
        who = f"worker {ranks[dead]}" if dead in ranks else "a worker"
        killed = " (killed by signal 9: SIGKILL, often the out-of-memory killer)"
        print(
            f"nanocnn: {who} of {workers} stopped{killed if status == 9 else ''}, so mpiexec "
            f"ended the job (status {status}); the last checkpoint is whole: continue with "
            "--resume --out RUN_FOLDER",
            file=sys.stderr,
            flush=True,
        )
    return status


def note_process_id(rank: int) -> None:
    """Under :func:`launch`, leave this rank's process id where the launcher looks."""
    folder = os.environ.get(PIDS_VARIABLE)
    if folder and os.path.isdir(folder):
        with open(os.path.join(folder, str(rank)), "w") as file:
            file.write(str(os.getpid()))


def _read(path: str) -> str:
    with open(path) as file:
        return file.read()


ABORTED = 2  # the exit status of a job that a rank ended on an error (Workers.abort_on_error)
BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
PIDS_VARIABLE = "NANOCNN_WORKER_PIDS"
