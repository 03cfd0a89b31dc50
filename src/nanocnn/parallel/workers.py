"""The ranks of one run: one process, or the ranks of an ``mpiexec`` job.

    workers = Workers.from_environment()   # one rank, unless started by mpiexec -n N
    workers.say("only rank 0 prints this")

Every part of nanocnn that can share its work (the trainer, the picture loader, the training
job) takes a :class:`Workers` and calls the same few collective operations whatever the
number of ranks: ``sum``, ``gather`` and ``broadcast``. For the one rank of a single process
(the base class) they are identities and nothing of MPI is loaded, so there is one code path
for 1..N processes. :class:`MPIWorkers` does them over an MPI communicator (mpi4py, the
optional ``mpi`` extra), loaded only when the process runs under ``mpiexec`` with more than
one rank (:func:`world_size`).

Rank 0 alone speaks (:meth:`Workers.say`) and writes files (:attr:`Workers.is_root`). An error
on any rank ends the whole job (:meth:`Workers.abort_on_error`), said once.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any, NoReturn

import numpy as np

from nanocnn._optional import require
from nanocnn.errors import EXPECTED_ERRORS
from nanocnn.parallel.launch import ABORTED, INTERRUPTED, note_process_id

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
    """The one rank of a single process: ``sum``, ``gather`` and ``broadcast`` are
    identities. :class:`MPIWorkers` is the same interface over the ranks of an MPI job."""

    rank: int = 0
    size: int = 1

    @staticmethod
    def from_environment() -> Workers:
        """The ranks of ``mpiexec``'s job, or the one rank of this process (MPI not loaded)."""
        if world_size() < 2:
            return Workers()
        mpi = require("mpi4py.MPI", extra="mpi")
        workers = MPIWorkers(mpi.COMM_WORLD)
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
        return values

    def gather(self, value: Any) -> list[Any]:
        """Every rank's ``value`` (any picklable object), in rank order, on every rank."""
        return [value]

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank."""
        return value

    def say(self, *args: Any, **kwargs: Any) -> None:
        """``print`` on rank 0, flushed; nothing on the other ranks."""
        if self.is_root:
            print(*args, **kwargs, flush=True)

    def check_same_weights(self, model: Any, step: int) -> None:
        """Raise RuntimeError if the ranks' weights differ (a float64 checksum of every
        parameter, gathered: one pass over the weights and a few bytes sent)."""
        checksum = sum(float(np.sum(param, dtype=np.float64)) for _, param, _ in model.parameters())
        checksums = self.gather(checksum)
        if len(set(checksums)) > 1:
            raise RuntimeError(f"the ranks' weights differ after step {step}: {checksums}")

    def abort(self, message: str, code: int = 1) -> NoReturn:
        """Print ``message`` (naming this rank in a job of several) and end every rank of
        the job with status ``code``."""
        print(message, file=sys.stderr, flush=True)
        raise SystemExit(code)

    @contextlib.contextmanager
    def abort_on_error(self, command: str = "nanocnn", traceback: bool = False) -> Iterator[None]:
        """End the whole job when this rank raises (the others would wait for it forever in
        their next collective operation): print the error naming the rank (with its
        ``traceback`` if asked), then abort; a Ctrl-C ends the job too, status 130. One
        process has no other rank to end: its errors pass unchanged."""
        yield


class MPIWorkers(Workers):
    """The ranks of an MPI job: an mpi4py communicator and the collective operations."""

    def __init__(self, comm: Any) -> None:
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()

    def sum(self, values: np.ndarray) -> np.ndarray:
        mpi = sys.modules["mpi4py.MPI"]
        self.comm.Allreduce(mpi.IN_PLACE, values, op=mpi.SUM)
        return values

    def gather(self, value: Any) -> list[Any]:
        return self.comm.allgather(value)

    def broadcast(self, value: Any) -> Any:
        return self.comm.bcast(value, root=0)

    def abort(self, message: str, code: int = 1) -> NoReturn:
        print(f"{message} (rank {self.rank} of {self.size})", file=sys.stderr, flush=True)
        self.comm.Abort(code)
        raise SystemExit(code)  # not reached: Abort ends the process

    @contextlib.contextmanager
    def abort_on_error(self, command: str = "nanocnn", traceback: bool = False) -> Iterator[None]:
        try:
            yield
        except KeyboardInterrupt:
            self.abort(f"{command}: interrupted", code=INTERRUPTED)
        except Exception as error:
            if traceback:
                import traceback as tb

                tb.print_exc()
            expected = isinstance(error, EXPECTED_ERRORS)
            cause = str(error) if expected else f"{type(error).__name__}: {error}"
            self.abort(f"{command}: error: {cause}", code=ABORTED)
