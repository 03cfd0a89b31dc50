"""``nanocnn train --workers N``: start the ranks of a data-parallel run on this machine with
the installed MPI's ``mpiexec`` (the ``mpi`` extra), pass a stop signal on to them, and say
which rank failed if one does.

Each rank runs ``python -m nanocnn.cli train ...`` with one BLAS thread (the ranks share the
cores) and finds its rank and the world size itself (:mod:`.workers`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from typing import Any

from nanocnn.interrupts import STOP_SIGNALS, on_stop_signals

INSTALL_HINT = "pip install 'nanocnn[mpi]' (mpi4py and MPICH)"
ABORTED = 2  # the exit status of a job that a rank ended on an error (Workers.abort_on_error)
KILL_AFTER = 30.0  # seconds the ranks have to end after a stop signal, then they are killed
BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
PIDS_VARIABLE = "NANOCNN_WORKER_PIDS"  # where the ranks of ``launch`` note their process ids


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
    machine, each with one BLAS thread (the ranks share the cores); returns its exit status,
    or 128 + the stop signal that ended it.

    It says what it runs. ``mpiexec`` runs in a session of its own, so that a terminal's
    Ctrl-C or hangup reaches this process alone; a stop signal (Ctrl-C, SIGTERM, SIGHUP:
    :mod:`nanocnn.interrupts`) goes on to ``mpiexec`` as SIGTERM, which MPICH's Hydra
    forwards to every rank (its Ctrl-C handling prints lines of its own, and SIGHUP kills it
    before it forwards anything), and every rank ends as one process does on Ctrl-C. Ranks
    still running ``KILL_AFTER`` seconds later are killed.

    When a rank dies (a signal, the out-of-memory killer), ``mpiexec`` ends the others and
    prints the cause with the process id; this adds which rank that was (each rank notes its
    process id in a folder given by ``PIDS_VARIABLE``, and the ranks' output passes through
    here)."""
    import re
    import shlex
    import subprocess
    import tempfile
    import threading

    command = [mpiexec(), "-n", str(workers), sys.executable, "-m", "nanocnn.cli", *arguments]
    print(f"nanocnn: {workers} workers, 1 BLAS thread each: {shlex.join(command)}", flush=True)
    with tempfile.TemporaryDirectory(prefix="nanocnn-workers-") as pids:
        threads = {name: "1" for name in BLAS_THREAD_VARIABLES}
        with subprocess.Popen(
            command,
            env={**os.environ, **threads, PIDS_VARIABLE: pids},
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            start_new_session=True,
        ) as process:
            assert process.stdout is not None
            stops: list[int] = []  # the stop signals received
            killer = threading.Timer(KILL_AFTER, _kill, (process, pids))
            killer.daemon = True

            def stop(signum: int) -> None:
                if not stops:
                    process.send_signal(signal.SIGTERM)
                    killer.start()
                stops.append(signum)

            dead: str | None = None
            with on_stop_signals(stop):
                try:
                    for line in process.stdout:
                        sys.stdout.write(line)
                        sys.stdout.flush()
                        if found := re.search(r"PID (\d+) RUNNING AT", line):
                            dead = found.group(1)
                except BaseException:  # this process fails (its output closed): end the job
                    stop(signal.SIGTERM)
                    process.wait()
                    raise
                status = process.wait()
            killer.cancel()
        ranks = {_read(os.path.join(pids, name)): name for name in os.listdir(pids)}
    if stops:
        return 128 + stops[0]
    if status not in (0, ABORTED) and status - 128 not in STOP_SIGNALS:  # else rank 0 said why
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


def _kill(process: Any, pids: str) -> None:
    """Kill the ranks noted in ``pids`` and ``mpiexec`` (``process``), still running
    ``KILL_AFTER`` seconds after a stop signal."""
    if process.poll() is not None:
        return
    print(f"nanocnn: the workers did not stop within {KILL_AFTER:.0f} s: killing them",
          file=sys.stderr, flush=True)  # fmt: skip
    for name in os.listdir(pids):
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(_read(os.path.join(pids, name))), signal.SIGKILL)
    with contextlib.suppress(OSError):
        os.killpg(process.pid, signal.SIGKILL)
