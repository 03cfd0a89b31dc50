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
or a stop signal on any rank ends the whole job (:meth:`Workers.abort_on_error`): rank 0 says
why, once, and every rank exits with the same status (:meth:`MPIWorkers.end`).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import numpy as np

from nanocnn._optional import require
from nanocnn.errors import EXPECTED_ERRORS
from nanocnn.interrupts import exit_status, ignore_stop_signals, interrupt
from nanocnn.parallel.launch import ABORTED, note_process_id

# How MPICH (Hydra), Open MPI and MVAPICH tell a process the number of ranks of its job.
WORLD_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")
GRACE = 10.0  # seconds an ending rank waits for the others to hear it (MPIWorkers.end)
SPIN = 0.01  # seconds a wait for the other ranks polls without a pause, then...
NAP = 0.001  # ...it sleeps this long between polls: the ranks share the cores
FAULT, END = 1, 2  # tags: a rank tells rank 0 it ends; rank 0 tells every rank to end


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

    @contextlib.contextmanager
    def abort_on_error(self, command: str = "nanocnn", traceback: bool = False) -> Iterator[None]:
        """End the whole job when this rank raises (the others would wait for it forever in
        their next collective operation): the error is said once, as ``command: error:
        ...`` (naming the rank unless it is rank 0; with this rank's ``traceback`` if asked),
        and every rank exits with status 2; a stop signal (Ctrl-C, SIGTERM, SIGHUP) ends the
        job too, with status 128 + the signal. One process has no other rank to end: its
        errors and interrupts pass unchanged."""
        yield


class MPIWorkers(Workers):
    """The ranks of an MPI job: an mpi4py communicator and the collective operations.

    A rank waits for the others by polling nonblocking operations, back in Python between
    polls: a signal interrupts it even while it waits for a rank that will never come (one
    that was interrupted, or failed), and it listens meanwhile on a second communicator
    (``ending``) where ranks say that they end (:meth:`end`)."""

    def __init__(self, comm: Any) -> None:
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.ending = comm.Dup()  # FAULT and END messages, apart from the collectives
        self.leaving = False  # ending: no more listening
        self.sent: list[Any] = []  # the requests of the messages end() sends, kept to the exit
        self.status = sys.modules["mpi4py.MPI"].Status()  # who sent a FAULT

    def sum(self, values: np.ndarray) -> np.ndarray:
        mpi = sys.modules["mpi4py.MPI"]
        self._poll(self.comm.Iallreduce(mpi.IN_PLACE, values, op=mpi.SUM).Test)
        return values

    def gather(self, value: Any) -> list[Any]:
        self._poll(self.comm.Ibarrier().Test)  # all are here: the blocking gather is short
        return self.comm.allgather(value)

    def broadcast(self, value: Any) -> Any:
        self._poll(self.comm.Ibarrier().Test)
        return self.comm.bcast(value, root=0)

    @contextlib.contextmanager
    def abort_on_error(self, command: str = "nanocnn", traceback: bool = False) -> Iterator[None]:
        try:
            yield
        except KeyboardInterrupt as stop:  # rank 0 has said what is saved (nanocnn.job)
            self.end(exit_status(stop))
        except Exception as error:
            if traceback:
                import traceback as tb

                tb.print_exc()
            expected = isinstance(error, EXPECTED_ERRORS)
            cause = str(error) if expected else f"{type(error).__name__}: {error}"
            self.end(ABORTED, f"{command}: error: {cause}")

    def end(self, code: int, message: str | None = None) -> NoReturn:
        """End the job: every rank exits with status ``code``, and ``message`` (an error;
        None for an interrupt) is said once.

        Rank 0 says it and tells every rank to end (END). Another rank tells rank 0 (FAULT),
        which says the message naming the rank and ends the job, or, if it is an interrupt,
        stops as if interrupted itself (and says how to resume); rank 0 hears it in its next
        wait for the others, and if it is ending already (an error every rank hits), says
        nothing more. A rank that hears nothing from rank 0 within ``GRACE`` seconds (busy,
        not waiting) says its message itself, naming its rank, and exits: ``mpiexec`` then
        ends the others."""
        ignore_stop_signals()
        self.leaving = True
        if self.is_root:
            if message:
                print(message, file=sys.stderr, flush=True)
            others = range(1, self.size)
            self.sent = [self.ending.isend(code, dest=rank, tag=END) for rank in others]
            self._leave(code)
        self.sent = [self.ending.isend((code, message), dest=0, tag=FAULT)]
        if self._poll(lambda: self.ending.iprobe(source=0, tag=END), GRACE):
            self._leave(self.ending.recv(source=0, tag=END))
        if message:
            print(f"{message} (rank {self.rank} of {self.size})", file=sys.stderr, flush=True)
        self._exit(code)

    def _listen(self) -> None:
        """Hear a rank that ends (rank 0) or rank 0 ending the job (the others); see end."""
        if self.leaving:
            return
        if not self.is_root:
            if self.ending.iprobe(source=0, tag=END):
                self._leave(self.ending.recv(source=0, tag=END))
            return
        if self.ending.iprobe(tag=FAULT, status=self.status):
            rank = self.status.Get_source()
            code, message = self.ending.recv(source=rank, tag=FAULT)
            if message is None:
                interrupt(code - 128)
            self.end(code, f"{message} (rank {rank} of {self.size})")

    def _poll(self, done: Callable[[], bool], timeout: float | None = None) -> bool:
        """Wait until ``done()``, listening (see end); False if ``timeout`` seconds pass first."""
        start = time.monotonic()
        while not done():
            self._listen()
            waited = time.monotonic() - start
            if timeout is not None and waited > timeout:
                return False
            if waited > SPIN:
                time.sleep(NAP)
        return True

    def _leave(self, code: int) -> NoReturn:
        """Exit with the other ranks: wait (at most ``GRACE`` seconds) until every rank is
        leaving, so that all exit together and ``mpiexec`` kills none of them."""
        ignore_stop_signals()
        self.leaving = True
        self._poll(self.ending.Ibarrier().Test, GRACE)
        self._exit(code)

    @staticmethod
    def _exit(code: int) -> NoReturn:
        """Exit now with status ``code``, output flushed. Not MPI_Finalize, which would wait
        for ranks stuck in an operation that can no longer complete."""
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
