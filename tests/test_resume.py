"""Nothing is lost when training is interrupted: checkpoints survive SIGKILL at any moment, and
``nanocnn train --resume`` ends with the same weights, bit for bit, as a run never stopped.

The comparison is of ``checkpoint.npz`` (the whole state after the last epoch: weights,
optimizer moments and step, the random generators, the schedule and the callbacks) and of
``model.npz``, the best model by validation loss, which must be the same file too.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from test_reproducibility import digits_like, dropout_cnn, start_training, wait_for

import nanocnn as nc
from nanocnn.io.arrays import load_arrays, save_arrays
from nanocnn.job import TrainOptions, make_trainer, run_training
from nanocnn.job.run_folder import RunFolder

EPOCHS, LIMIT = 3, "1000"


def assert_same_arrays(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].dtype == b[name].dtype and a[name].tobytes() == b[name].tobytes(), name


def without_seconds(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


def assert_same_run(a: Path, b: Path) -> None:
    """Two run folders hold the same training state, the same best model and history."""
    (state_a, header_a), (state_b, header_b) = load_arrays(a), load_arrays(b)
    assert_same_arrays(state_a, state_b)
    for key in ("epoch", "step", "rng", "layer_rngs", "callbacks", "layers"):
        assert header_a[key] == header_b[key], key
    assert without_seconds(header_a["history"]) == without_seconds(header_b["history"])


def run_job(out: Path, epochs: int, resume: bool = False, stop_at_call: int = 0) -> nc.Trainer:
    """``run_training`` with a plateau schedule and early stopping on small data; a
    KeyboardInterrupt (Ctrl-C) at augmentation call ``stop_at_call``, if given."""
    x, y = digits_like(120)
    calls = 0

    def augment(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        nonlocal calls
        calls += 1
        if calls == stop_at_call:
            raise KeyboardInterrupt
        return batch + rng.normal(0, 0.01, batch.shape).astype(batch.dtype)

    options = TrainOptions(
        schedule="plateau", patience=3, seed=5, out=out, resume=resume, val_split=0.2,
        progress="off",
    )  # fmt: skip
    run = RunFolder(out)
    recorded = {"epochs": epochs, "lr": 0.05, "batch_size": 32}
    trainer = make_trainer(dropout_cnn(), nc.SoftmaxCrossEntropy(), options, run, recorded,
                           augment=augment)  # fmt: skip
    run_training(trainer, run, options, (x, y), epochs, val_split=0.2)
    return trainer


def test_the_checkpoint_holds_the_callbacks_state_after_the_epoch(tmp_path: Path) -> None:
    """The training checkpoint is saved last, after the schedule and early stopping updated
    their counters: otherwise a resumed run would replay them from a stale state."""
    trainer = run_job(tmp_path, epochs=3)
    arrays, header = load_arrays(tmp_path / "checkpoint.npz")
    for index, callback in enumerate(trainer.callbacks):
        plain = {k: v for k, v in callback.state_dict().items() if not isinstance(v, np.ndarray)}
        assert header["callbacks"][index] == plain, type(callback).__name__
    assert float(arrays["optimizer.lr"]) == trainer.optimizer.lr


def test_ctrl_c_then_resume_matches_an_uninterrupted_run(tmp_path: Path, capsys) -> None:
    """In process: Ctrl-C in epoch 3 (of 3 batches each), then resume; with dropout, batch
    norm, augmentation, a plateau schedule at a learning rate that stalls, and early stopping
    that ends both runs at the same epoch."""
    straight = run_job(tmp_path / "straight", epochs=6)
    interrupted = tmp_path / "interrupted"
    with contextlib.suppress(KeyboardInterrupt):
        run_job(interrupted, epochs=6, stop_at_call=2 * 3 + 2)
    assert "the state after epoch 2 is saved" in capsys.readouterr().err
    assert load_arrays(interrupted / "checkpoint.npz")[1]["epoch"] == 2
    resumed = run_job(interrupted, epochs=6, resume=True)
    assert "resuming" in capsys.readouterr().out
    assert_same_run(tmp_path / "straight" / "checkpoint.npz", interrupted / "checkpoint.npz")
    assert_same_arrays(straight.model.state_dict(), resumed.model.state_dict())
    assert straight.optimizer.lr == resumed.optimizer.lr < 0.05  # the plateau did cut it
    assert len(straight.history) == len(resumed.history) < 6  # and early stopping stopped both


WRITER = """
import sys
import numpy as np
from nanocnn.io.arrays import save_arrays
for i in range(10**6):
    save_arrays(sys.argv[1], {"data": np.full(1 << 20, i, np.float32)}, {"i": i})
    print(i, flush=True)
"""


def test_sigkill_while_saving_leaves_the_old_or_the_new_file(tmp_path: Path) -> None:
    """A process saves 4 MB checkpoints in a loop and is killed at random moments: the file
    is always whole, the last one saved or the one after it. The temporary file a killed
    writer may leave is deleted by the next save, so at most one is ever there."""
    path = tmp_path / "checkpoint.npz"
    rng = np.random.default_rng(0)
    for _ in range(6):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
        )
        first = int(writer.stdout.readline())
        time.sleep(rng.uniform(0, 0.2))
        writer.send_signal(signal.SIGKILL)
        printed = [first, *map(int, writer.stdout.read().split())]
        writer.wait()
        arrays, header = load_arrays(path)
        assert header["i"] in (printed[-1], printed[-1] + 1)
        assert (arrays["data"] == header["i"]).all()
        assert len(list(tmp_path.glob(".checkpoint.npz.*"))) <= 1
    save_arrays(path, {"data": np.zeros(1)}, {"i": -1})
    assert [item.name for item in tmp_path.iterdir()] == ["checkpoint.npz"]


def test_a_running_writers_temporary_file_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    mine = tmp_path / f".model.npz.{os.getpid()}.abc123"  # this process is alive
    mine.write_bytes(b"half a file")
    save_arrays(path, {"data": np.zeros(1)}, {})
    assert mine.exists()


def test_sigkill_mid_epoch_then_resume_gives_the_same_weights(tmp_path: Path) -> None:
    """For real: ``nanocnn train`` killed with SIGKILL inside epoch 2, then ``--resume``d,
    against the same command never interrupted. Same seed, same machine: same bits."""
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    arguments = ("--limit", LIMIT, "--epochs", str(EPOCHS), "--seed", "1")
    reference = start_training(straight, *arguments)  # alongside, on the other core
    victim = start_training(killed, *arguments)
    wait_for((killed / "checkpoint.npz").exists, victim)
    header = load_arrays(killed / "checkpoint.npz")[1]
    time.sleep(header["history"][0]["seconds"] / 4)  # a quarter into epoch 2, as long as 1
    victim.send_signal(signal.SIGKILL)
    victim.communicate()
    killed_at = load_arrays(killed / "checkpoint.npz")[1]["epoch"]
    assert killed_at < EPOCHS and not (killed / "history.json").exists()

    resumed = start_training(killed, *arguments, "--resume")
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert f"resuming {killed} after epoch {killed_at}" in out
    out, err = reference.communicate(timeout=300)
    assert reference.returncode == 0, err

    assert_same_run(straight / "checkpoint.npz", killed / "checkpoint.npz")
    assert_same_arrays(nc.load(straight / "model.npz").state_dict(),
                       nc.load(killed / "model.npz").state_dict())  # fmt: skip
    history = [json.loads((run / "history.json").read_text()) for run in (straight, killed)]
    assert without_seconds(history[0]) == without_seconds(history[1])
    assert len(history[0]) == EPOCHS
    metrics = [json.loads((run / "metrics.json").read_text()) for run in (straight, killed)]
    assert metrics[0]["accuracy"] == metrics[1]["accuracy"]
    print(f"killed in epoch {killed_at + 1} of {EPOCHS}; resumed run identical: "
          f"{len(load_arrays(killed / 'checkpoint.npz')[0])} arrays, "
          f"test accuracy {metrics[1]['accuracy']:.4f}")  # fmt: skip
