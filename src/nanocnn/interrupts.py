"""Ctrl-C, ``kill`` and a closed terminal end a run alike.

    with on_stop_signals(interrupt):   # SIGTERM and SIGHUP now raise Interrupted, as Ctrl-C
        train(options)                 # does: the checkpoint is kept, the resume line said

``kill``, ``timeout`` and a batch scheduler's cancel send SIGTERM; a closed terminal or ssh
session sends SIGHUP. :class:`Interrupted` is a ``KeyboardInterrupt``, so the code that
handles Ctrl-C handles them all, and a command then exits with :func:`exit_status`: 128 + the
signal's number, as a shell reports a process that a signal ended (130 for Ctrl-C, 143 for
SIGTERM, 129 for SIGHUP). Only the first stop signal interrupts: those that follow (a
scheduler signals every process of a job, and ``mpiexec`` forwards the signal again) are
ignored while the run ends. Writes hold them back (:func:`held_back`) until they are done.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import NoReturn

# Ctrl-C; kill, timeout, a scheduler; a closed terminal (SIGHUP is missing on Windows)
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class Interrupted(KeyboardInterrupt):
    """The run was stopped by the signal ``signum``."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def exit_status(interrupt: KeyboardInterrupt) -> int:
    """128 + the number of the signal that stopped the run (SIGINT for a plain Ctrl-C)."""
    return 128 + getattr(interrupt, "signum", signal.SIGINT)


@contextlib.contextmanager
def on_stop_signals(handle: Callable[[int], None]) -> Iterator[None]:
    """Within the block, each stop signal calls ``handle(signum)``; the handlers that were
    there come back after it. Python handles signals in the main thread only: in another
    thread nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.getsignal(number) for number in STOP_SIGNALS}

    def handler(signum: int, frame: FrameType | None) -> None:
        handle(signum)

    for number in STOP_SIGNALS:
        signal.signal(number, handler)
    try:
        yield
    finally:
        for number, before in previous.items():
            signal.signal(number, signal.SIG_DFL if before is None else before)


@contextlib.contextmanager
def held_back() -> Iterator[None]:
    """Hold the stop signals back within the block, then deliver the first that came: a file
    and what is known of it change together (a checkpoint and the epoch it holds), and no
    temporary file is left half written. In another thread than the main one, nothing
    changes."""
    caught: list[int] = []
    with on_stop_signals(caught.append):
        yield
    if caught:
        signal.raise_signal(caught[0])


def interrupt(signum: int) -> NoReturn:
    """Raise :class:`Interrupted`, and ignore the stop signals that follow: the handler (for
    :func:`on_stop_signals`) of a process that trains."""
    ignore_stop_signals()
    raise Interrupted(signum)


def ignore_stop_signals() -> None:
    """Let no stop signal interrupt this process any more (in the main thread)."""
    for number in STOP_SIGNALS:
        signal.signal(number, signal.SIG_IGN)
