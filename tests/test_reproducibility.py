"""Reproducibility and numerical safety: the same seed gives bit-identical weights; a loss or
weights that become NaN stop training with the epoch, batch and learning rate, keeping the
last good checkpoint; Ctrl-C stops cleanly, with a checkpoint and the command to resume."""

from __future__ import annotations

import math
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import nanocnn as nc
from nanocnn import augment
from nanocnn.io.arrays import load_arrays
from nanocnn.job import TrainOptions, make_trainer, run_training
from nanocnn.job.run_folder import RunFolder
from nanocnn.training import Callback, CosineLR, Trainer


def digits_like(n: int = 192, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random 28x28 "images" with labels that depend on them: something to learn."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 1, 28, 28), dtype=np.float32)
    return x, (x[:, 0, :14].mean(axis=(1, 2)) * 30).astype(np.int64) % 10


def dropout_cnn(seed: int = 0) -> nc.Sequential:
    """A small CNN with batch norm and dropout: every kind of randomness in training."""
    rng = np.random.default_rng(seed)
    return nc.Sequential(
        nc.Conv2D(1, 4, 3, padding=1, rng=rng), nc.BatchNorm2D(4), nc.ReLU(), nc.MaxPool2D(2),
        nc.Flatten(), nc.Dropout(0.3, rng=rng), nc.Dense(4 * 14 * 14, 10, rng=rng),
    )  # fmt: skip


def train(seed: int, callbacks=(), checkpoint: Path | None = None) -> Trainer:
    x, y = digits_like()
    model = dropout_cnn(seed)
    trainer = Trainer(
        model, nc.SoftmaxCrossEntropy(), nc.Adam(model.parameters(), lr=3e-3), batch_size=32,
        seed=seed, augment=augment.digits(), progress="off", callbacks=[CosineLR(), *callbacks],
        checkpoint=checkpoint,
    )  # fmt: skip
    trainer.fit(x, y, epochs=2, validation_split=0.25)
    return trainer


def test_the_same_seed_gives_bit_identical_weights() -> None:
    """Shuffling, augmentation, dropout masks, the validation split and the initial weights
    all come from the seed: two runs agree to the last bit, optimizer state included."""
    first, second = train(seed=3), train(seed=3)
    for state in (lambda t: t.model.state_dict(), lambda t: t.optimizer.state_dict()):
        a, b = state(first), state(second)
        assert a.keys() == b.keys()
        for name in a:
            assert a[name].tobytes() == b[name].tobytes(), name
    assert [row["loss"] for row in first.history.rows] == [
        row["loss"] for row in second.history.rows
    ]
    other = train(seed=4)
    assert other.model[0].params["weight"].tobytes() != first.model[0].params["weight"].tobytes()


BAD_INPUTS = {
    "uint8 images": (np.zeros((2, 1, 28, 28), np.uint8), r"dtype uint8.*/ 255"),
    "NaN": (np.full((2, 1, 28, 28), np.nan, np.float32), "NaN or infinite"),
    "inf": (np.full((2, 1, 28, 28), -np.inf, np.float64), "NaN or infinite"),
    "overflows float32": (np.full((2, 1, 28, 28), 1e300), "NaN or infinite"),
    "booleans": (np.ones((2, 1, 28, 28), bool), "dtype bool"),
    "complex": (np.ones((2, 1, 28, 28), np.complex64), "dtype complex64"),
    "ragged lists": (np.array([[0.5], [0.5, 0.5]], dtype=object), "dtype object"),
    "no channel axis": (np.zeros((2, 28, 28), np.float32), r"shape \(N, C, H, W\)"),
    "3 channels": (np.zeros((2, 3, 28, 28), np.float32), "1 input channels"),
    "too small": (np.zeros((2, 1, 2, 2), np.float32), "Dense expected 784 input"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_predict_and_fit_refuse_bad_arrays_with_a_reason(case: str) -> None:
    x, reason = BAD_INPUTS[case]
    model = dropout_cnn()
    with pytest.raises(ValueError, match=reason):
        model.predict(x)
    with pytest.raises(ValueError, match=reason):
        train_once(model, x, np.zeros(len(x), np.int64))


def train_once(model: nc.Sequential, x: np.ndarray, y: np.ndarray) -> None:
    Trainer(
        model, nc.SoftmaxCrossEntropy(), nc.SGD(model.parameters(), lr=0.1), progress="off"
    ).fit(x, y, epochs=1)


def test_float64_and_empty_inputs_to_predict() -> None:
    """float64 is converted (once, explicitly) to the model's float32; an empty batch or a
    scalar is refused."""
    model, (x, _) = dropout_cnn(), digits_like(4)
    np.testing.assert_array_equal(model.predict(x.astype(np.float64)), model.predict(x))
    for empty in (x[:0], np.float32(0.5)):
        with pytest.raises(ValueError, match=r"needs a batch of shape \(N, ...\)"):
            model.predict(empty)


class Sabotage(Callback):
    """At batch ``batch`` of epoch ``epoch``: poison the weights, or the learning rate."""

    def __init__(self, epoch: int, batch: int, what: str) -> None:
        self.epoch, self.batch, self.what, self.count = epoch, batch, what, 0

    def on_epoch_begin(self, trainer: Trainer) -> None:
        self.count = 0

    def on_batch_begin(self, trainer: Trainer) -> None:
        self.count += 1
        if (trainer.epoch + 1, self.count) != (self.epoch, self.batch):
            return
        if self.what == "weights":  # float32 logits overflow on this very batch
            trainer.model[-1].params["weight"][...] = 1e38
        else:  # the loss of this batch is still finite; the update makes the weights NaN
            trainer.optimizer.lr = math.inf


@pytest.mark.parametrize(
    ("what", "batch", "message"),
    [
        ("weights", 2, r"epoch 2, batch 2 \(learning rate .*\): .*diverged: try a lower lear"),
        ("lr", 5, r"epoch 2, batch 5 \(learning rate inf\): weights \['.*'\] became NaN"),
    ],
)
def test_a_diverging_run_stops_and_keeps_the_last_good_checkpoint(
    tmp_path: Path, what: str, batch: int, message: str
) -> None:
    path = tmp_path / "checkpoint.npz"
    saved = []

    class Remember(Callback):
        def on_epoch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
            saved.append(trainer.model.state_dict())

    # 144 training images in batches of 32: 5 batches an epoch, the last one short.
    with pytest.raises(nc.NonFiniteLossError, match=message):
        train(seed=0, callbacks=[Sabotage(2, batch, what), Remember()], checkpoint=path)
    arrays, header = load_arrays(path)
    assert header["epoch"] == 1 and len(saved) == 1
    for name, value in saved[0].items():
        assert np.isfinite(arrays[f"model.{name}"]).all()
        np.testing.assert_array_equal(arrays[f"model.{name}"], value)


def test_the_run_folder_says_where_the_last_good_state_is(tmp_path: Path) -> None:
    """Through the job layer (what ``nanocnn train`` runs): the message adds the checkpoint."""
    x, y = digits_like(96)
    calls = 0

    def poisoned(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        nonlocal calls
        calls += 1
        return batch * np.float32(3e38) if calls == 5 else batch  # epoch 2, batch 2

    run = RunFolder(tmp_path / "run")
    options = TrainOptions(model="test", seed=0, out=run.path, progress="off")
    recorded = {"epochs": 3, "lr": 1e-3, "batch_size": 24}
    trainer = make_trainer(dropout_cnn(), nc.SoftmaxCrossEntropy(), options, run, recorded,
                           augment=poisoned)  # fmt: skip
    with pytest.raises(nc.NonFiniteLossError) as caught:
        run_training(trainer, run, options, (x, y), epochs=3, val_split=0.25)
    assert "training stopped at epoch 2, batch 2 " in str(caught.value)
    assert str(caught.value).endswith(f"the state after epoch 1 is kept in {run.checkpoint_file}")
    assert load_arrays(run.checkpoint_file)[1]["epoch"] == 1
    assert np.isfinite(nc.load(run.model_file)[0].params["weight"]).all()


def start_training(out: Path, *arguments: str) -> subprocess.Popen:
    """``nanocnn train`` on a LeNet and a small MNIST subset, in a subprocess."""
    command = [sys.executable, "-m", "nanocnn.cli", "train", "--model", "lenet", "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.Popen(
        [*command, *arguments], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def wait_for(condition, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_ctrl_c_saves_and_says_how_to_resume(tmp_path: Path) -> None:
    out = tmp_path / "run"
    process = start_training(out, "--limit", "1200", "--epochs", "20")
    wait_for((out / "checkpoint.npz").exists, process)
    time.sleep(0.3)  # inside a later epoch
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    epoch = load_arrays(out / "checkpoint.npz")[1]["epoch"]  # a whole, readable checkpoint
    command = f"nanocnn train --resume --out {out} --model lenet --epochs 20 --limit 1200"
    assert stderr.strip() == (
        f"interrupted: the state after epoch {epoch} is saved in {out / 'checkpoint.npz'}; "
        f"continue with: {command}"
    )
    assert f"epoch {epoch}/20" in stdout
    assert not [path.name for path in out.iterdir() if path.name.startswith(".")]  # no temp
    resumed = subprocess.run(
        [sys.executable, "-m", "nanocnn.cli", *shlex.split(command)[1:]],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming {out} after epoch {epoch}" in resumed.stdout


def test_ctrl_c_in_the_first_epoch_says_nothing_was_saved(tmp_path: Path) -> None:
    out = tmp_path / "run"
    process = start_training(out, "--limit", "12000", "--epochs", "2")  # epochs of seconds
    assert process.stdout.readline().startswith("training lenet on 11,000 MNIST images")
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert stderr.strip() == "interrupted before the first epoch ended: nothing saved"
    assert not (out / "checkpoint.npz").exists()
