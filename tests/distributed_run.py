"""Training runs that tests/test_distributed.py starts as one process and under
``mpiexec -n 2``, to compare them: ``python tests/distributed_run.py step|run OUT.npz``.

``step``: one SGD step of a float64 CNN with BatchNorm (2-D and 1-D), dropout and augmentation
on one global batch of 15 (shares of 7 and 8); saves the summed gradients and the weights.
``run``: three epochs of a float32 CNN with BatchNorm, dropout and augmentation, Adam, a
cosine schedule and validation; saves the history. Rank 0 writes ``OUT``.
``fail``: the short run, where rank 1 runs out of memory in its second step.
``folder``: a picture folder (with broken files) decoded a share per rank, then gathered.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np

import nanocnn as nc
from nanocnn import augment
from nanocnn.datasets import load_image_folder, load_images
from nanocnn.datasets.shapes import make_synthetic_folder
from nanocnn.parallel import Workers
from nanocnn.training.schedules import CosineLR
from nanocnn.training.trainer import Trainer


def digits_like(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random 28x28 "images" with labels that depend on them: something to learn."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 1, 28, 28), dtype=np.float32)
    return x, (x[:, 0, :14].mean(axis=(1, 2)) * 30).astype(np.int64) % 10


def every_random_cnn(seed: int = 0) -> nc.Sequential:
    """Convolution, both BatchNorms, dropout: everything that differs across ranks. No bias
    before a BatchNorm: its gradient is 0 up to rounding, and Adam would scale that noise up
    into steps that differ from one summation order to another."""
    rng = np.random.default_rng(seed)
    return nc.Sequential(
        nc.Conv2D(1, 4, 3, padding=1, bias=False, rng=rng), nc.BatchNorm2D(4), nc.ReLU(),
        nc.MaxPool2D(2), nc.Flatten(), nc.Dense(4 * 14 * 14, 16, bias=False, rng=rng),
        nc.BatchNorm1D(16), nc.ReLU(), nc.Dropout(0.3, rng=rng), nc.Dense(16, 10, rng=rng),
    )  # fmt: skip


def one_step(workers: Workers) -> dict[str, np.ndarray]:
    x, y = digits_like(15)
    model = every_random_cnn().astype(np.float64)
    trainer = Trainer(
        model, nc.SoftmaxCrossEntropy(), nc.SGD(model.parameters(), lr=0.1, momentum=0.9),
        batch_size=15, augment=augment.digits(), progress="off", workers=workers,
    )  # fmt: skip
    trainer.fit(x.astype(np.float64), y, epochs=1)
    arrays = {f"grad.{name}": grad for name, _, grad in model.parameters()}
    arrays.update({f"weight.{name}": value for name, value in model.state_dict().items()})
    return arrays


def short_run(workers: Workers, fail: bool = False) -> dict[str, np.ndarray]:
    x, y = digits_like(300)
    model = every_random_cnn()
    steps = 0

    def augment_or_fail(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        nonlocal steps
        steps += 1
        if fail and steps == 2 and workers.rank == 1:
            raise MemoryError("out of memory in the test")
        return augment.digits()(batch, rng)

    trainer = Trainer(
        model, nc.SoftmaxCrossEntropy(), nc.Adam(model.parameters(), lr=3e-3), batch_size=32,
        augment=augment_or_fail, progress="off", callbacks=[CosineLR()], workers=workers,
        check_weights=5,
    )  # fmt: skip
    history = trainer.fit(x, y, epochs=3, validation_split=0.2)
    return {"history": np.array(json.dumps(history.rows))}


def picture_folder(workers: Workers, root: str) -> dict[str, np.ndarray]:
    if workers.is_root:
        make_synthetic_folder(root, per_class=15, broken=3)
    workers.broadcast(None)  # the folder is written
    files = sorted(str(path) for path in Path(root).rglob("*.*"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the broken files
        folder = load_image_folder(root, 16, progress="off", workers=workers)
        loaded = load_images(files, 16, 3, progress="off", workers=workers)
    return {
        "x_train": folder.x_train, "y_train": folder.y_train, "x_test": folder.x_test,
        "y_test": folder.y_test, "test_files": np.array([str(f) for f in folder.test_files]),
        "skipped": np.array(folder.skipped), "x": loaded.x, "kept": loaded.kept,
        "unreadable": np.array([str(path) for path in loaded.unreadable]),
    }  # fmt: skip


if __name__ == "__main__":
    mode, out = sys.argv[1], sys.argv[2]
    workers = Workers.from_environment()
    if mode == "fail":
        with workers.abort_on_error("distributed_run"):
            short_run(workers, fail=True)
    if mode == "folder":
        arrays = picture_folder(workers, out + ".folder")
    else:
        arrays = {"step": one_step, "run": short_run}[mode](workers)
    if workers.is_root:
        np.savez(out, **arrays)
