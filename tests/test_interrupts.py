"""Stopping a run: Ctrl-C, SIGTERM and SIGHUP raise the same ``Interrupted`` with exit status
128 + the signal; a write finishes before the interrupt comes (the checkpoint and the epoch
said agree, no temporary file is left); the ``--workers`` launcher passes the signal on and
kills processes that do not stop. Real runs stopped by signals are in test_reproducibility
(one process) and test_distributed (``--workers 2``)."""

from __future__ import annotations

import importlib
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import nanocnn as nc
from nanocnn.interrupts import Interrupted, exit_status, interrupt, on_stop_signals
from nanocnn.io import write_atomically
from nanocnn.io.arrays import load_arrays
from nanocnn.training import Trainer
from nanocnn.training import checkpoint as checkpoints

launching = importlib.import_module("nanocnn.parallel.launch")  # the module, not its launch()


def test_every_stop_signal_is_a_keyboard_interrupt_with_its_exit_status() -> None:
    assert exit_status(KeyboardInterrupt()) == 130  # a plain Ctrl-C
    before = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGHUP)}
    for number, status in ((signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)):
        with pytest.raises(KeyboardInterrupt) as caught, on_stop_signals(interrupt):
            os.kill(os.getpid(), number)
            time.sleep(1)  # not reached: the handler raises first
        assert isinstance(caught.value, Interrupted) and exit_status(caught.value) == status
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers restored
    assert before == {number: signal.getsignal(number) for number in before}


def test_a_write_finishes_before_the_interrupt(tmp_path: Path) -> None:
    """Ctrl-C in the middle of an atomic write: the file is whole, then the interrupt comes."""

    def write(file: object) -> None:
        file.write(b"first half ")  # type: ignore[attr-defined]
        os.kill(os.getpid(), signal.SIGINT)
        file.write(b"second half")  # type: ignore[attr-defined]

    with pytest.raises(Interrupted), on_stop_signals(interrupt):
        write_atomically(tmp_path / "file", write)
    assert (tmp_path / "file").read_bytes() == b"first half second half"
    assert os.listdir(tmp_path) == ["file"]


def test_the_epoch_said_is_the_one_the_checkpoint_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM while the checkpoint of epoch 3 is written: the interrupt comes once the file
    holds epoch 3 and the trainer knows it (the resume line says what the file holds)."""
    model = nc.Sequential(nc.Flatten(), nc.Dense(4, 2, rng=0))
    trainer = Trainer(model, nc.SoftmaxCrossEntropy(), nc.SGD(model.parameters(), lr=0.1),
                      checkpoint=tmp_path / "checkpoint.npz", progress="off")  # fmt: skip
    trainer.saved_epoch, trainer.epoch = 2, 3
    save = checkpoints.save_checkpoint

    def signal_then_save(path: Path, arrays: dict[str, np.ndarray], state: dict) -> Path:
        os.kill(os.getpid(), signal.SIGTERM)
        return save(path, arrays, state)

    monkeypatch.setattr(checkpoints, "save_checkpoint", signal_then_save)
    assert trainer.checkpoint is not None
    with pytest.raises(Interrupted), on_stop_signals(interrupt):
        trainer.checkpoint.save(trainer)
    assert trainer.saved_epoch == 3 == load_arrays(tmp_path / "checkpoint.npz")[1]["epoch"]
    assert os.listdir(tmp_path) == ["checkpoint.npz"]


def test_the_launcher_passes_a_signal_on_and_kills_what_does_not_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An ``mpiexec`` that ignores SIGTERM (a stand-in, no MPI needed): the launcher passes the
    signal on, kills it (and what it started) ``KILL_AFTER`` seconds later, and ends with
    status 128 + the signal."""
    mpiexec = tmp_path / "mpiexec"
    mpiexec.write_text("#!/bin/sh\ntrap '' TERM\necho started\nsleep 60\necho not killed\n")
    mpiexec.chmod(0o755)
    monkeypatch.setattr(launching, "mpiexec", lambda: str(mpiexec))
    monkeypatch.setattr(launching, "KILL_AFTER", 1.0)
    unhandled = signal.getsignal(signal.SIGTERM)

    def terminate_once_handled() -> None:
        while signal.getsignal(signal.SIGTERM) == unhandled:  # the launcher is not listening yet
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=terminate_once_handled, daemon=True).start()
    start = time.monotonic()
    assert launching.launch(2, ["train"]) == 143
    assert time.monotonic() - start < 20
    out, err = capsys.readouterr()
    assert out.splitlines()[1:] == ["started"]
    assert err == "nanocnn: the workers did not stop within 1 s: killing them\n"
