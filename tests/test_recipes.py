"""Good models on data nobody tuned for (issue 20): pictures prepared for ``predict`` as the
training pictures were, on data that fills the frame; augmentation chosen for the data;
recipes fitted to the data's size; a time budget the schedule fits into; ``lr-find``; and
``nanocnn tune``, killed and carried on."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import nanocnn as nc
from nanocnn import augment
from nanocnn.cli import main
from nanocnn.datasets import load_mnist, write_idx
from nanocnn.inputs import predict_samples
from nanocnn.job.recipe import fit_to_data
from nanocnn.preprocess import looks_like_mnist
from nanocnn.tasks import get_task
from nanocnn.training import CosineLR, Trainer
from nanocnn.training.budget import TimeBudget, parse_duration
from nanocnn.training.lr_finder import lr_range_test

Image = pytest.importorskip("PIL.Image")
pytest.importorskip("matplotlib")


def stripes(count: int, seed: int, shape: tuple[int, int] = (20, 28)) -> tuple:
    """``count`` uint8 pictures of ``shape`` that fill the frame: stripes of one of four
    angles (the class), bright on dark, noisy."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, count)
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    angles = np.array([0.0, 0.5, 1.0, 1.5]) * np.pi / 2
    phase = rng.uniform(0, 2 * np.pi, count)[:, None, None]
    along = (
        np.cos(angles[labels])[:, None, None] * cols + np.sin(angles[labels])[:, None, None] * rows
    )
    x = 0.5 + 0.4 * np.sin(along * 1.3 + phase) + rng.normal(0, 0.1, (count, *shape))
    return (np.clip(x, 0, 1) * 255).astype(np.uint8), labels.astype(np.uint8)


@pytest.fixture(scope="module")
def idx_stripes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An IDX data set of 20x28 stripes, not MNIST: 600 training and 80 test pictures."""
    folder = tmp_path_factory.mktemp("stripes")
    for part, (x, y) in {"train": stripes(600, 0), "t10k": stripes(80, 1)}.items():
        write_idx(folder / f"{part}-images-idx3-ubyte.gz", x)
        write_idx(folder / f"{part}-labels-idx1-ubyte.gz", y)
    return folder


def test_mnist_like_digits_are_told_from_pictures_that_fill_the_frame(idx_stripes):
    digits = load_mnist().x_test[:2000]
    assert looks_like_mnist(digits)
    assert not looks_like_mnist(1 - digits)  # dark ink on white
    zoomed = digits[:, :, 4:24, 4:24].repeat(2, axis=2).repeat(2, axis=3)[:, :, 6:34, 6:34]
    assert not looks_like_mnist(zoomed)  # the same digits, filling the frame
    assert not looks_like_mnist(load_mnist(idx_stripes).x_train)


def test_predict_agrees_with_evaluate_on_idx_pictures_that_fill_the_frame(
    idx_stripes, tmp_path, capsys
):
    """The test pictures saved as PNG files: ``predict`` reads each as the IDX images were
    (no MNIST centring: the model recorded none), so it says what ``evaluate`` says."""
    run = tmp_path / "run"
    argv = ["train", "--data-dir", str(idx_stripes), "--model", "mlp", "--epochs", "3"]
    assert main([*argv, "--out", str(run)]) == 0
    model = nc.load(run / "model.npz")
    assert model.metadata["centring"] == "none" and model.metadata["input_shape"] == [1, 20, 28]
    assert not get_task("digits").drawable(model)
    x_test, _ = get_task("digits").test_data(model, idx_stripes)
    expected = model.predict(x_test).argmax(axis=1)
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    for k, picture in enumerate(np.rint(x_test[:, 0] * 255).astype(np.uint8)):
        Image.fromarray(picture).save(pictures / f"{k:03d}.png")
    capsys.readouterr()
    assert main(["predict", str(run), str(pictures), "--format", "json", "--top-k", "1"]) == 0
    answers = [json.loads(line)["class"] for line in capsys.readouterr().out.splitlines()]
    assert answers == [str(k) for k in expected]
    assert (expected == load_mnist(idx_stripes).y_test).mean() > 0.5  # it learned something


def test_predict_agrees_with_evaluate_on_a_picture_folder_that_fills_the_frame(tmp_path, capsys):
    """A folder of colour pictures (stripes at four angles, filling the frame): ``predict``
    on the very test files the model recorded gives the classes ``evaluate`` computes."""
    folder = tmp_path / "folder"
    x, y = stripes(160, 2, (24, 24))
    for k, (picture, label) in enumerate(zip(x, y, strict=True)):
        (folder / f"angle{label}").mkdir(parents=True, exist_ok=True)
        rgb = np.stack([picture, 255 - picture, picture // 2], axis=-1)
        Image.fromarray(rgb).save(folder / f"angle{label}" / f"{k:03d}.png")
    run = tmp_path / "run"
    argv = ["train", "--task", "images", "--data-dir", str(folder), "--image-size", "24"]
    assert main([*argv, "--model", "mlp", "--epochs", "2", "--out", str(run)]) == 0
    model = nc.load(run / "model.npz")
    task = get_task("images")
    x_test, _ = task.test_data(model, folder)
    expected = [task.answer(model, out)["class"] for out in predict_samples(model, x_test)]
    files = [str(folder / entry[0]) for entry in model.metadata["test_files"]]
    capsys.readouterr()
    assert main(["predict", str(run), *files, "--format", "json"]) == 0
    answers = [json.loads(line)["class"] for line in capsys.readouterr().out.splitlines()]
    assert answers == expected and len(answers) == 16


def test_augmentation_fits_the_data():
    digits_task, images_task = get_task("digits"), get_task("images")
    mnist_like = digits_task.default_augment(data_with(centring="mnist"))
    assert isinstance(mnist_like, augment.Augmenter) and len(mnist_like.steps) == 1
    assert digits_task.default_augment(data_with(centring="none")) is None
    assert images_task.default_augment(data_with(image_size=32)) is None  # no flips unless named
    named = images_task.augment(data_with(image_size=32, input_shape=[3, 32, 32]), "flip,shift")
    assert [step.func.__name__ for step in named.steps] == ["random_flip", "random_shift"]
    assert images_task.augment(data_with(image_size=32), "") is None
    with pytest.raises(ValueError, match="unknown augmentation 'mirror'; choose from digits"):
        augment.named("mirror,shift", 32)


def data_with(**metadata: object) -> nc.tasks.TaskData:
    metadata.setdefault("input_shape", [1, 28, 28])
    empty = (np.zeros((0, 1, 28, 28)), np.zeros(0))
    return nc.tasks.TaskData(empty, empty, None, dict(metadata), "test")


def test_recipes_are_fitted_to_the_size_of_the_data():
    mnist = fit_to_data(epochs=4, count=60_000, batch_size=64, val_split=1 / 12)
    assert mnist["epochs"] == 5  # about 4,000 steps: MNIST's own length, roughly
    small = fit_to_data(epochs=4, count=1_500, batch_size=64, val_split=0.1)
    assert small["epochs"] == 50 and small["patience"] == 10  # capped; stopped by validation
    assert fit_to_data(4, 10_000, 32, 0.1) == {"epochs": 15, "patience": 5}


def test_a_time_budget_ends_the_run_and_the_schedule_spans_it(monkeypatch):
    """With a clock that moves 0.1 s a batch, a 3 s budget is 30 steps: the run stops there
    and the cosine schedule has annealed the learning rate to (nearly) zero by then."""
    from nanocnn.training import budget

    now = [0.0]
    monkeypatch.setattr(budget.time, "perf_counter", lambda: now[0])

    class Tick(nc.training.Callback):
        def on_batch_end(self, trainer, logs):
            now[0] += 0.1

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 4)).astype(np.float32), rng.integers(0, 2, 64)
    model = nc.Sequential(nc.Dense(4, 2, rng=0))
    lrs: list[float] = []

    class Watch(nc.training.Callback):
        def on_batch_begin(self, trainer):
            lrs.append(trainer.optimizer.lr)

    trainer = Trainer(model, nc.SoftmaxCrossEntropy(), nc.SGD(model.parameters(), lr=0.1),
                      batch_size=8, progress="off",
                      callbacks=[Tick(), TimeBudget(3.0), CosineLR(), Watch()])  # fmt: skip
    trainer.fit(x, y, epochs=1000)
    assert trainer.step == 30 and len(trainer.history) == 4  # 8 steps an epoch: 3 and a part
    assert lrs[0] == pytest.approx(0.1) and lrs[-1] < 0.002
    assert all(a >= b for a, b in itertools.pairwise(lrs))
    assert parse_duration("1h30m") == 5400 and parse_duration("90s") == parse_duration("1.5m")
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("ten minutes")


def test_the_lr_range_test_suggests_a_rate_and_leaves_the_model_as_it_was(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((512, 10)).astype(np.float32)
    y = (x[:, :3].sum(axis=1) > 0).astype(np.int64)
    model = nc.Sequential(nc.Dense(10, 16, rng=0), nc.ReLU(), nc.Dense(16, 2, rng=1))
    before = model.state_dict()
    trainer = Trainer(model, nc.SoftmaxCrossEntropy(), nc.Adam(model.parameters()), progress="off")
    finding = lr_range_test(trainer, x, y, steps=80)
    assert all(np.array_equal(model.state_dict()[k], v) for k, v in before.items())
    assert trainer.step == 0 and trainer.optimizer.lr == pytest.approx(1e-3)
    assert 1e-5 < finding.suggestion < 1.0 and finding.lrs == sorted(finding.lrs)
    lowest = finding.lrs[int(np.argmin(finding.losses))]
    assert finding.suggestion == pytest.approx(lowest / 10)
    assert main(["lr-find", "--model", "mlp", "--limit", "600", "--steps", "40",
                 "--plot", str(tmp_path / "lr.png")]) == 0  # fmt: skip
    assert "suggested learning rate" in capsys.readouterr().out and (tmp_path / "lr.png").is_file()


@pytest.mark.slow
def test_tune_killed_carries_on_its_study_and_ends_with_the_best_recipe(idx_stripes, tmp_path):
    pytest.importorskip("optuna")
    out = tmp_path / "tuned"
    command = [sys.executable, "-m", "nanocnn", "tune", "--data-dir", str(idx_stripes),
               "--budget", "80s", "--out", str(out)]  # fmt: skip
    first = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    assert first.stdout is not None
    for line in first.stdout:  # the second trial's line: one done, more under way
        if line.startswith("trial 1:"):
            break
    first.send_signal(signal.SIGKILL)
    first.wait()
    study_log = (out / "study.log").read_text()
    assert not (out / "metrics.json").exists()
    start = time.perf_counter()
    second = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr
    assert (out / "study.log").read_text().startswith(study_log)  # carried on, not begun again
    report = json.loads((out / "metrics.json").read_text())
    assert report["training"]["trials"] >= 3 and report["accuracy"] > 0.5
    assert time.perf_counter() - start < 200  # what the first run spent counts
    assert (out / "trials.png").is_file() and (out / "model.npz").is_file()
